// Hostile and broken clients. At login: an oversized startup packet, message lengths that lie, a
// tampered or replayed SCRAM exchange, a client that never finishes, 2 000 half-open connections,
// login and work in one write, plaintext after SSLRequest. After login: COPY and Sync sequences
// that would leave a server owing replies, half a message at disconnect, hijacking the shared
// prepared statements. Each gets the right error or a close of that client alone, and clients
// querying throughout see no error and never another client's rows.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScramClient } from '../src/auth/scram-client.js';
import { wire } from '../src/testing/wire.js';
import { md5Response } from '../src/auth/md5.js';
import { getPostgres } from './harness/context.js';
import { TEST_DATABASE } from './harness/roles.js';
import { startCanary } from './support/canary.js';
import { makeCertificates } from './support/certificates.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields, RawClient, type RawMessage } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;
let bystander: pg.Client;
let bystanderQueries = 0;
let bystanderErrors: unknown[] = [];
let stopBystander = false;
let bystanderDone: Promise<void>;

const startup = (user: string) =>
  wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring('app').bytes(Buffer.from([0])).untyped();

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'scram-sha-256', client_login_timeout: 2, max_client_conn: 2100 },
    authFile: { scram_user: 'scrampass' },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
  });
  bystander = new pg.Client({ connectionString: pooler.url('app', 'scram_user', 'scrampass') });
  await bystander.connect();
  // a logged-in client that keeps working while everything below happens
  bystanderDone = (async () => {
    while (!stopBystander) {
      try {
        await bystander.query('SELECT 1');
        bystanderQueries++;
      } catch (error) {
        bystanderErrors.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
});

afterAll(async () => {
  stopBystander = true;
  await bystanderDone;
  await bystander?.end();
  await pooler?.stop();
});

function expectError(message: RawMessage | null, sqlstate: string, text: string | RegExp): void {
  expect(message?.code).toBe('E');
  const fields = errorFields(message!.body);
  expect(fields.C).toBe(sqlstate);
  expect(fields.M).toMatch(text);
}

/** reads until the connection closes; true if it did within the time */
async function closes(client: RawClient, timeoutMs = 5000): Promise<boolean> {
  while ((await client.readMessage(timeoutMs)) !== null);
  return client.closed;
}

/** SCRAM up to the client-final-message, which `tamper` may change before it is sent */
async function scramLogin(tamper: (clientFinal: string) => string = (final) => final): Promise<{ client: RawClient; reply: RawMessage | null; clientFinal: string }> {
  const client = await RawClient.connect(pooler.port);
  client.send(startup('scram_user'));
  const sasl = await client.readMessage();
  expect(sasl?.code).toBe('R');
  const scram = new ScramClient();
  const first = Buffer.from(scram.start());
  client.send(wire().cstring('SCRAM-SHA-256').int32(first.length).bytes(first).message('p'));
  const cont = await client.readMessage();
  const clientFinal = await scram.continue(cont!.body.toString('utf8', 4), 'scrampass');
  client.send(wire().bytes(tamper(clientFinal)).message('p'));
  return { client, reply: await client.readMessage(), clientFinal };
}

describe('hostile input at login', () => {
  // PostgreSQL only logs an impossible startup length; test/startup-refusals.test.ts compares with it
  it('closes without a word on a startup packet over 10 000 bytes', async () => {
    const client = await RawClient.connect(pooler.port);
    const huge = wire().int32(196608).cstring('user').cstring('x'.repeat(10_050)).bytes(Buffer.from([0])).untyped();
    client.send(huge);
    expect(await client.readMessage()).toBeNull();
    expect(client.closed).toBe(true);
  });

  it('closes without a word on a startup length below the minimum, and refuses a login message whose length lies', async () => {
    const tiny = await RawClient.connect(pooler.port);
    tiny.send(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]));
    expect(await tiny.readMessage()).toBeNull();
    expect(tiny.closed).toBe(true);

    const liar = await RawClient.connect(pooler.port);
    liar.send(startup('scram_user'));
    await liar.readMessage();
    // a SASLInitialResponse that claims 50 MB
    liar.send(Buffer.concat([Buffer.from('p'), Buffer.from([0x03, 0x00, 0x00, 0x00]), Buffer.from('SCRAM')]));
    expectError(await liar.readMessage(), '08P01', /length|too (long|large)/i);
    expect(await closes(liar)).toBe(true);
  });

  it('refuses a message length that lies after login (below 4 bytes) and closes only that client', async () => {
    const { client, reply } = await scramLogin();
    expect(reply?.code).toBe('R');
    await client.readUntilReady();
    client.send(Buffer.from([0x51, 0, 0, 0, 2]));
    expectError(await client.readMessage(), '08P01', /length/);
    expect(await closes(client)).toBe(true);
  });

  it('takes a SCRAM client-final-message and a query in one write, and split at every byte, as PostgreSQL does', async () => {
    const probe = await scramLogin();
    probe.client.close();
    const length = wire().bytes(probe.clientFinal).message('p').length + wire().cstring("SELECT 'pipelined' AS p").message('Q').length;
    for (let cut = 0; cut <= length; cut += 7) {
      const client = await RawClient.connect(pooler.port);
      client.send(startup('scram_user'));
      await client.readMessage();
      const scram = new ScramClient();
      const first = Buffer.from(scram.start());
      client.send(wire().cstring('SCRAM-SHA-256').int32(first.length).bytes(first).message('p'));
      const cont = await client.readMessage();
      const clientFinal = await scram.continue(cont!.body.toString('utf8', 4), 'scrampass');
      await client.sendSplit(Buffer.concat([wire().bytes(clientFinal).message('p'), wire().cstring("SELECT 'pipelined' AS p").message('Q')]), [cut]);
      const login = await client.readUntilReady();
      expect(login.at(-1)?.code, `cut at ${cut}`).toBe('Z');
      const rows = await client.readUntilReady();
      expect(rows.map((m) => m.code), `cut at ${cut}`).toEqual(['T', 'D', 'C', 'Z']);
      client.close();
    }
  });

  it('refuses a tampered SCRAM proof with 28P01, the same as a wrong password', async () => {
    const { client, reply } = await scramLogin((final) => final.replace(/p=(.)/, (_m, c: string) => `p=${c === 'A' ? 'B' : 'A'}`));
    expectError(reply, '28P01', 'password authentication failed for user "scram_user"');
    expect(await closes(client)).toBe(true);
  });

  it('refuses a replayed SCRAM exchange: an old client-final-message does not match a new nonce', async () => {
    const first = await scramLogin();
    expect(first.reply?.code).toBe('R');
    first.client.close();
    const replay = await scramLogin(() => first.clientFinal);
    expectError(replay.reply, '08P01', /nonce/);
    expect(await closes(replay.client)).toBe(true);
  });

  it('closes a client that never finishes logging in after client_login_timeout', async () => {
    const client = await RawClient.connect(pooler.port);
    client.send(startup('scram_user'));
    expect((await client.readMessage())?.code).toBe('R');
    const started = Date.now();
    expectError(await client.readMessage(6000), '08P01', /client_login_timeout/);
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(await closes(client)).toBe(true);
  });

  it('survives 2 000 half-open connections at once: new logins work, all are closed at client_login_timeout', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 2000 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect({ host: '127.0.0.1', port: pooler.port });
            socket.on('error', () => undefined);
            // read (and drop) whatever comes, so the pooler's close is seen
            socket.resume();
            socket.once('connect', () => {
              // half a startup packet, and then nothing
              socket.write(Buffer.from([0, 0, 0, 40, 0, 3]));
              resolve(socket);
            });
            setTimeout(() => reject(new Error('connect timed out')), 10_000);
          }),
      ),
    );
    const closed = sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    try {
      const fresh = new pg.Client({ connectionString: pooler.url('app', 'scram_user', 'scrampass') });
      await fresh.connect();
      expect((await fresh.query('SELECT 2 AS n')).rows[0].n).toBe(2);
      await fresh.end();
      await Promise.race([Promise.all(closed), new Promise((_r, reject) => setTimeout(() => reject(new Error('half-open clients were not closed')), 8000))]);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('kept the logged-in client working through all of it', () => {
    expect(bystanderErrors).toEqual([]);
    expect(bystanderQueries).toBeGreaterThan(20);
  });
});

/** every reply until the connection closes or `ms` pass with nothing new */
async function drain(client: RawClient, ms = 3000): Promise<RawMessage[]> {
  const out: RawMessage[] = [];
  for (;;) {
    const message = await client.readMessage(ms).catch(() => null);
    if (message === null) return out;
    out.push(message);
  }
}

/** replies until the `count`th ReadyForQuery (or the close) */
async function untilReadyCount(client: RawClient, count: number): Promise<RawMessage[]> {
  const out: RawMessage[] = [];
  while (out.filter((m) => m.code === 'Z').length < count) {
    const message = await client.readMessage(5000);
    if (message === null) return out;
    out.push(message);
  }
  return out;
}

const query = (sql: string) => wire().cstring(sql).message('Q');
const sync = () => wire().message('S');

describe('hostile input after login', () => {
  let work: PoolerProcess;

  beforeAll(async () => {
    const target = `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE}`;
    work = await startPooler({
      settings: { auth_type: 'md5', max_client_conn: 200, server_connect_timeout: 2 },
      authFile: { md5_user: 'md5pass' },
      databases: {
        tx1: `${target} pool_mode=transaction pool_size=1`,
        sess1: `${target} pool_mode=session pool_size=1`,
        fresh: `${target} pool_mode=transaction pool_size=1`,
      },
    });
  });

  afterAll(async () => {
    await work?.stop();
  });

  /** md5 login up to the salt; the rest is the test's */
  async function md5Salt(database: string): Promise<{ client: RawClient; password: Buffer }> {
    const client = await RawClient.connect(work.port);
    client.send(wire().int32(196608).cstring('user').cstring('md5_user').cstring('database').cstring(database).bytes('\0').untyped());
    const request = await client.readMessage();
    expect(request?.code).toBe('R');
    expect(request!.body.readInt32BE(0)).toBe(5);
    const password = wire().cstring(md5Response('md5_user', 'md5pass', request!.body.subarray(4, 8))).message('p');
    return { client, password };
  }

  async function md5Login(database: string): Promise<RawClient> {
    const { client, password } = await md5Salt(database);
    client.send(password);
    expect((await client.readUntilReady()).at(-1)?.code).toBe('Z');
    return client;
  }

  /**
   * run `attacks` while a canary shares the attacker's server (pool of one), then give the canary a
   * moment more on the server the attacker left: it must only ever get its own answers
   */
  async function whileWatched(database: string, attacks: () => Promise<void>): Promise<void> {
    const victim = await startCanary(work.url(database, 'md5_user', 'md5pass'), 20);
    try {
      await attacks();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await victim.stop();
    }
    expect(victim.errors).toEqual([]);
    expect(victim.queries).toBeGreaterThan(5);
  }

  it('takes the password and a query in one write, and split at every byte, whether or not the pool has a server yet', async () => {
    const watch = await startCanary(work.url('tx1', 'md5_user', 'md5pass'));
    try {
      for (const database of ['fresh', 'tx1']) {
        const length = (await md5Salt(database)).password.length + query("SELECT 'after login' AS a").length;
        for (let cut = 0; cut < length; cut++) {
          const { client, password } = await md5Salt(database);
          const data = Buffer.concat([password, query("SELECT 'after login' AS a")]);
          await client.sendSplit(data, [cut]);
          const replies = await client.readUntilReady();
          expect(replies.at(-1)?.code, `${database}, cut at ${cut}`).toBe('Z');
          const rows = await client.readUntilReady();
          expect(rows.map((m) => m.code), `${database}, cut at ${cut}`).toEqual(['T', 'D', 'C', 'Z']);
          expect(rows[1]!.body.toString('latin1')).toContain('after login');
          client.close();
        }
      }
    } finally {
      await watch.stop();
    }
    expect(watch.errors).toEqual([]);
  });

  it('COPY then Syncs in one pipeline leave no ReadyForQuery owed: another client on the same server never gets the injected row', async () => {
    // on the same server as the attacker (pool of one): it must only ever get its own rows
    const victim = await startCanary(work.url('tx1', 'md5_user', 'md5pass'), 50);
    const attack = Buffer.concat([
      query('CREATE TEMP TABLE IF NOT EXISTS copy_sink (a int)'),
      wire().cstring('').cstring('COPY copy_sink FROM STDIN').int16(0).message('P'),
      wire().cstring('').cstring('').int16(0).int16(0).int16(0).message('B'),
      wire().cstring('').int32(0).message('E'),
      wire().message('c'),
      sync(),
      sync(),
      query("SELECT pg_sleep(0.3), 'injected'"),
    ]);
    const boundaries: number[] = [];
    for (let at = 0; at < attack.length; at += 1 + attack.readUInt32BE(at + 1)) boundaries.push(at);
    try {
      for (const cuts of [[], ...boundaries.map((b) => [b]), boundaries]) {
        const attacker = await md5Login('tx1');
        await attacker.sendSplit(attack, cuts);
        const got = await untilReadyCount(attacker, 4);
        // the attacker itself gets every reply PostgreSQL sends it, its own injected row included
        expect(got.filter((m) => m.code === 'Z').length, `cuts ${cuts.join(',')}`).toBe(4);
        expect(got.some((m) => m.code === 'D' && m.body.includes('injected'))).toBe(true);
        attacker.close();
      }
    } finally {
      await victim.stop();
    }
    expect(victim.errors).toEqual([]);
    expect(victim.queries).toBeGreaterThan(10);
  });

  it.each(['tx1', 'sess1'])('%s: a COPY that fails on a bad row, with Syncs before and after it, never hands its server to another client', async (database) => {
    // PostgreSQL ignores the first Sync (read in COPY) but answers the second (read after the bad
    // row ended the COPY): which of them it answers depends on where the data fails
    const attack = Buffer.concat([
      query('CREATE TEMP TABLE IF NOT EXISTS copy_sink (a int)'),
      wire().cstring('').cstring('COPY copy_sink FROM STDIN').int16(0).message('P'),
      wire().cstring('').cstring('').int16(0).int16(0).int16(0).message('B'),
      wire().cstring('').int32(0).message('E'),
      sync(),
      wire().bytes('not a number\n').message('d'),
      sync(),
      wire().message('c'),
      sync(),
      query("SELECT pg_sleep(0.3), 'injected'"),
    ]);
    await whileWatched(database, async () => {
      for (let round = 0; round < 4; round++) {
        const attacker = await md5Login(database);
        attacker.send(attack);
        await drain(attacker, 1000);
        attacker.close();
      }
    });
  });

  it('a message type PostgreSQL does not accept is refused by the pooler, never forwarded: the next client on the server never gets its FATAL', async () => {
    await whileWatched('tx1', async () => {
      for (const code of [0xe1, 0x70 /* a PasswordMessage after login */, 0x00]) {
        for (const cuts of [[], [30]]) {
          const attacker = await md5Login('tx1');
          const unknown = Buffer.concat([Buffer.from([code]), wire().cstring('SELECT 1; SELECT 2').message('Q').subarray(1)]);
          await attacker.sendSplit(Buffer.concat([query("COPY (SELECT g FROM generate_series(1, 5000) g) TO STDOUT"), unknown]), cuts).catch(() => undefined);
          const replies = await drain(attacker, 1000);
          const error = replies.find((m) => m.code === 'E');
          expect(error && errorFields(error.body)).toMatchObject({ C: '08P01', M: `invalid frontend message type ${code}` });
          attacker.close();
        }
      }
    });
  });

  it('a Sync, Flush or Execute longer than PostgreSQL accepts is refused before it is forwarded: PostgreSQL would drop the server after handing it on', async () => {
    await whileWatched('tx1', async () => {
      for (const code of ['S', 'H', 'E', 'c']) {
        const attacker = await md5Login('tx1');
        attacker.send(Buffer.concat([query('SELECT pg_sleep(0.05)'), wire().bytes(Buffer.alloc(20_000)).message(code)]));
        const error = (await drain(attacker, 1000)).find((m) => m.code === 'E');
        const limit = code === 'H' ? 'but this message type has no body (length 4)' : "over PostgreSQL's limit for this message type (10000 bytes)";
        expect(error && errorFields(error.body).M).toBe(`client sent a message of type '${code}' with length 20004, ${limit}`);
        attacker.close();
      }
    });
  });

  it('a Flush with a body is refused before it is forwarded: PostgreSQL would fail it and skip to a Sync, and the next client on the pool of one would wait for ever', async () => {
    // found by the hostile fuzz (seed 740979361): a Query whose type byte became 'H'
    // in one write, cut inside the header, and cut inside the body
    for (const cuts of [[], [3], [7]]) {
      const attacker = await md5Login('tx1');
      // the pooler may close as soon as it has the header, before the rest is written
      await attacker.sendSplit(wire().cstring('BEGIN').message('H'), cuts).catch(() => undefined);
      const error = (await drain(attacker, 1000)).find((m) => m.code === 'E');
      expect(error && errorFields(error.body)).toMatchObject({ C: '08P01', M: "client sent a message of type 'H' with length 10, but this message type has no body (length 4)" });
      attacker.close();
      const next = new pg.Client({ connectionString: work.url('tx1', 'md5_user', 'md5pass') });
      await next.connect();
      try {
        const answer = await Promise.race([next.query("SELECT 'answered' AS v"), new Promise((_r, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000))]);
        expect((answer as pg.QueryResult).rows).toEqual([{ v: 'answered' }]);
      } finally {
        await next.end().catch(() => undefined);
      }
    }
  });

  it('an extended-protocol error with no Sync after it leaves the server discarding until one: it is never handed to another client', async () => {
    await whileWatched('tx1', async () => {
      for (let round = 0; round < 5; round++) {
        const attacker = await md5Login('tx1');
        // found by the hostile fuzz: the Bind fails (no unnamed statement), and the Sync became a CopyDone
        attacker.send(Buffer.concat([query('SELECT 1; SELECT 2'), wire().cstring('').cstring('').int16(0).int16(1).int32(0).int16(0).message('B'), wire().message('c')]));
        await drain(attacker, 500);
        attacker.close();
      }
    });
  });

  it('session mode: COPY, CopyDone, two Syncs and a FunctionCall do not let the reset finish on a stale ReadyForQuery', async () => {
    for (let round = 0; round < 3; round++) {
      const attacker = await md5Login('sess1');
      const functionCall = wire().int32(2026 /* pg_backend_pid */).int16(0).int16(0).int16(0).message('F');
      attacker.send(Buffer.concat([query("SET application_name = 'attacker'"), query('CREATE TEMP TABLE t_copy (a int); COPY t_copy FROM STDIN'), wire().message('c'), sync(), sync(), functionCall]));
      await drain(attacker, 1000);
      attacker.close();
      const next = new pg.Client({ connectionString: work.url('sess1', 'md5_user', 'md5pass') });
      await next.connect();
      for (let i = 0; i < 5; i++) {
        const { rows } = await next.query(`SELECT ${i} AS n, current_setting('application_name') AS app, to_regclass('t_copy') AS t`);
        expect(rows).toEqual([{ n: i, app: '', t: null }]);
      }
      await next.end();
    }
  });

  it('never reuses a server that was sent half a message: the next client on the pool of one is answered', async () => {
    for (let round = 0; round < 3; round++) {
      const client = await md5Login('tx1');
      const halfCopyData = Buffer.concat([Buffer.from([0x64]), Buffer.from([0, 0, 0x23, 0x28]), Buffer.alloc(10, 0x78)]);
      client.send(Buffer.concat([query('SELECT pg_sleep(0.3)'), halfCopyData]));
      expect((await client.readUntilReady()).at(-1)?.code).toBe('Z');
      client.close();
      const next = new pg.Client({ connectionString: work.url('tx1', 'md5_user', 'md5pass') });
      await next.connect();
      const answer = await Promise.race([next.query("SELECT 'fortytwo' AS v"), new Promise((_r, reject) => setTimeout(() => reject(new Error('no answer')), 3000))]);
      expect((answer as pg.QueryResult).rows).toEqual([{ v: 'fortytwo' }]);
      await next.end();
    }
  });

  it('a client cannot replace a shared prepared statement: names are unguessable, and a server where SQL PREPARE/DEALLOCATE ran is never handed on as it is', async () => {
    const victim = new pg.Client({ connectionString: work.url('tx1', 'md5_user', 'md5pass') });
    const attacker = new pg.Client({ connectionString: work.url('tx1', 'md5_user', 'md5pass') });
    await Promise.all([victim.connect(), attacker.connect()]);
    try {
      const plusOne = { name: 'plus_one', text: 'SELECT $1::int + 1 AS n', values: [1] };
      expect((await victim.query(plusOne)).rows).toEqual([{ n: 2 }]);
      const { rows: names } = await attacker.query('SELECT name FROM pg_prepared_statements');
      expect(names.length).toBeGreaterThan(0);
      for (const { name } of names) {
        expect(name).toMatch(/^POOLER_[0-9a-f]{12}_\d+$/);
        await attacker.query(`DEALLOCATE "${name}"`);
        await attacker.query(`PREPARE "${name}"(int) AS SELECT 1000 * $1 AS n`);
      }
      // SQL PREPARE pins the attacker to the pool's only server (session_state = track_and_pin):
      // the victim gets it only once the attacker has left, and never with the attacker's statement
      await attacker.end();
      for (let i = 0; i < 5; i++) expect((await victim.query({ ...plusOne, values: [i] })).rows).toEqual([{ n: i + 1 }]);
    } finally {
      await Promise.all([victim.end(), attacker.end().catch(() => undefined)]);
    }
  });
});

describe('bytes after SSLRequest', () => {
  it('never reads what a client sent in plaintext after SSLRequest: SSLRequest, StartupMessage and Query in one write do nothing', async () => {
    const certs = makeCertificates('trust_user');
    const hbaFile = join(certs.dir, 'hba.conf');
    writeFileSync(hbaFile, 'hostssl all all 127.0.0.1/32 trust\n');
    await postgres.psql('DROP TABLE IF EXISTS ssl_probe; CREATE TABLE ssl_probe (a int); GRANT ALL ON ssl_probe TO trust_user', { database: TEST_DATABASE });
    const tlsPooler = await startPooler({
      settings: { auth_type: 'hba', auth_hba_file: hbaFile, client_tls_sslmode: 'require', client_tls_key_file: certs.serverKey, client_tls_cert_file: certs.serverCert },
      databases: { app: `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE} user=trust_user` },
    });
    try {
      const client = await RawClient.connect(tlsPooler.port);
      const sslRequest = wire().int32(80877103).untyped();
      const startupPacket = wire().int32(196608).cstring('user').cstring('trust_user').cstring('database').cstring('app').bytes('\0').untyped();
      client.send(Buffer.concat([sslRequest, startupPacket, query('INSERT INTO ssl_probe VALUES (1)')]));
      expect((await client.readBytes(1)).toString()).toBe('S');
      await drain(client, 1000);
      client.close();
      // a proper TLS client still logs in
      const good = new pg.Client({ connectionString: tlsPooler.url('app', 'trust_user'), ssl: { rejectUnauthorized: false } });
      await good.connect();
      expect((await good.query('SELECT count(*)::int AS n FROM ssl_probe')).rows).toEqual([{ n: 0 }]);
      await good.end();
      expect(await postgres.psql('SELECT count(*) FROM ssl_probe', { database: TEST_DATABASE })).toBe('0\n');
    } finally {
      await tlsPooler.stop();
    }
  });
});
