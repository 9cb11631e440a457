// The dimensions the other tests keep small, at sizes real applications reach, each run direct and
// through the pooler with the same result while a client queries the same pool: rows per result,
// Bind parameters, pipeline length, statement-name length, statements per client, reply size, clients.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { bind, close, describe as describeMessage, execute, parse, query, sync, transcript } from './support/extended-protocol.js';
import { startCanary, type Canary } from './support/canary.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient, type RawMessage } from './support/raw-client.js';

const postgres = getPostgres();
const DB = 'real_sizes';
const MODES = ['transaction', 'statement'] as const;
type Mode = (typeof MODES)[number];
let pooler: PoolerProcess;
/** a client per pool that queries the whole time; it must never see an error */
const canaries: Canary[] = [];

beforeAll(async () => {
  await postgres.createDatabase(DB);
  await postgres.psql('CREATE TABLE wide_insert (a int, b text, c int, d text, e int)', { database: DB });
  const target = `host=${postgres.host} port=${postgres.port} dbname=${DB} pool_size=2`;
  // max_prepared_statements is left at its default (200)
  pooler = await startPooler({
    settings: { auth_type: 'trust', max_client_conn: 1200, admin_users: 'postgres' },
    databases: Object.fromEntries(MODES.map((mode) => [mode, `${target} pool_mode=${mode}`])),
  });
  for (const mode of MODES) canaries.push(await startCanary(pooler.url(mode)));
});

afterAll(async () => {
  await Promise.all(canaries.map((canary) => canary.stop()));
  await pooler?.stop();
});

const directUrl = () => postgres.url(DB);

/** `work` run with a node-postgres client direct and with one through the pooler: both results */
async function directAndPooled<T>(mode: Mode, work: (client: pg.Client) => Promise<T>): Promise<{ direct: T; pooled: T }> {
  const direct = new pg.Client({ connectionString: directUrl() });
  const pooled = new pg.Client({ connectionString: pooler.url(mode) });
  await Promise.all([direct.connect(), pooled.connect()]);
  try {
    return { direct: await work(direct), pooled: await work(pooled) };
  } finally {
    await Promise.all([direct.end(), pooled.end()]);
  }
}

/**
 * a reply as text: the code and the body byte for byte, or the length and hash of a body over 4 kB.
 * A short error loses the fields naming PostgreSQL's source file, line and routine (F, L, R): an
 * error the pooler answers itself, as PostgreSQL would, cannot know them.
 */
function exact(message: RawMessage): string {
  if (message.body.length > 4096) return `${message.code} ${message.body.length} bytes ${createHash('sha1').update(message.body).digest('hex')}`;
  const body = message.body.toString('latin1');
  if (message.code !== 'E') return `${message.code} ${body}`;
  return `E ${body.split('\0').filter((field) => !/^[FLR]/.test(field)).join('\0')}`;
}

/** send `bytes` in one write and read the replies up to the `readyCount`-th ReadyForQuery */
async function replies(client: RawClient, bytes: Buffer, readyCount = 1): Promise<RawMessage[]> {
  client.send(bytes);
  const all: RawMessage[] = [];
  for (let ready = 0; ready < readyCount; ) {
    const message = await client.readMessage(30_000);
    if (message === null) throw new Error(`connection closed after ${all.length} replies`);
    all.push(message);
    if (message.code === 'Z') ready++;
  }
  return all;
}

/** raw clients logged in direct and through the pooler, given to `work` and closed after */
async function rawBoth<T>(mode: Mode, work: (client: RawClient) => Promise<T>): Promise<{ direct: T; pooled: T }> {
  const direct = await RawClient.login(postgres.port, DB);
  const pooled = await RawClient.login(pooler.port, mode);
  try {
    return { direct: await work(direct), pooled: await work(pooled) };
  } finally {
    direct.close();
    pooled.close();
  }
}

describe('rows per result', () => {
  const ROWS = 1_000_000;
  const sql = `SELECT g, 'row ' || g AS label FROM generate_series(1, ${ROWS}) g`;

  it('1 000 000 rows reach node-postgres and psql as they do direct, on a transaction pool of 2 with a client busy', async () => {
    const took: number[] = [];
    const summary = async (client: pg.Client) => {
      const started = Date.now();
      const result = await client.query({ text: sql, rowMode: 'array' });
      took.push(Date.now() - started);
      const hash = createHash('sha1');
      for (const row of result.rows as [number, string][]) hash.update(`${row[0]}|${row[1]}\n`);
      return `${result.rowCount} rows ${hash.digest('hex')}`;
    };
    const node = await directAndPooled('transaction', summary);
    console.log(`${ROWS} rows to node-postgres: ${took[0]} ms direct, ${took[1]} ms through the pooler`);
    expect(node.direct).toMatch(new RegExp(`^${ROWS} rows `));
    expect(node.pooled).toBe(node.direct);

    const psql = async (url: string) => {
      const result = await runTool('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql]);
      if (result.code !== 0) throw new Error(`psql via ${url}: ${result.stderr}`);
      return `${result.stdout.split('\n').length - 1} rows ${createHash('sha1').update(result.stdout).digest('hex')}`;
    };
    const direct = await psql(directUrl());
    const pooled = await psql(pooler.url('transaction'));
    // psql prints each row as node-postgres's were hashed: both saw the same rows
    expect(direct).toBe(node.direct);
    expect(pooled).toBe(direct);
  });
});

describe('parameters per Bind', () => {
  /** `SELECT array_length(ARRAY[$1, ..., $n]::int[], 1)` with 1..n as values */
  const arrayOf = (n: number) => ({
    text: `SELECT array_length(ARRAY[${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(',')}]::int[], 1) AS n`,
    values: Array.from({ length: n }, (_, i) => i + 1),
  });
  /** the outcome of a query: its rows, or its error's SQLSTATE and message */
  const outcome = (client: pg.Client, config: pg.QueryConfig) =>
    client.query(config).then(
      (result) => ({ rows: result.rows }),
      (error: pg.DatabaseError) => ({ error: `${error.code} ${error.message}` }),
    );

  it.each(MODES)('%s mode: 65 535 parameters (PostgreSQL\'s maximum) bind as direct, unnamed and named, in a SELECT and a 13 107-row INSERT; 65 536 give PostgreSQL\'s own error', async (mode) => {
    const columns = 5;
    const insertRows = 65_535 / columns;
    // one statement: statement mode has no transaction blocks
    const rows = Array.from({ length: insertRows }, (_, r) => `(${Array.from({ length: columns }, (_, c) => `$${r * columns + c + 1}`).join(',')})`);
    const insert = {
      text: `WITH inserted AS (INSERT INTO wide_insert VALUES ${rows.join(',')} RETURNING *)
             SELECT count(*)::int AS n, md5(string_agg(concat_ws('|', a, b, c, d, e), ',' ORDER BY a)) AS h FROM inserted`,
      values: Array.from({ length: insertRows }, (_, r) => [r, `b${r}`, -r, `d${r}`, r * 2]).flat(),
    };
    const { direct, pooled } = await directAndPooled(mode, async (client) => {
      const results = [];
      for (const name of [undefined, `p65535_${mode}`]) results.push(await outcome(client, { ...arrayOf(65_535), name }));
      for (const name of [undefined, `p65536_${mode}`]) results.push(await outcome(client, { ...arrayOf(65_536), name }));
      for (const name of [undefined, `insert_${mode}`]) results.push(await outcome(client, { ...insert, name }));
      return results;
    });
    expect(direct.slice(0, 2)).toEqual([{ rows: [{ n: 65_535 }] }, { rows: [{ n: 65_535 }] }]);
    // node-postgres writes the count 65 536 in 16 bits, as 0
    expect(direct[2]).toEqual({ error: '08P01 bind message supplies 0 parameters, but prepared statement "" requires 65536' });
    expect(direct[3]).toEqual({ error: `08P01 bind message supplies 0 parameters, but prepared statement "p65536_${mode}" requires 65536` });
    expect(direct[4]).toEqual({ rows: [{ n: insertRows, h: expect.stringMatching(/^[0-9a-f]{32}$/) }] });
    expect(direct[5]).toEqual(direct[4]);
    expect(pooled).toEqual(direct);
  });
});

describe('pipeline length', () => {
  const QUERIES = 10_000;
  /** each query of a pipeline answers differently: its number, and a string as long as its number mod 50 */
  const sqlOf = (i: number) => `SELECT ${i} AS i, repeat('x', ${i % 50}) AS pad`;
  const unnamed = Buffer.concat([
    ...Array.from({ length: QUERIES }, (_, i) => [parse('', 'SELECT $1::int AS i, repeat(\'x\', $1::int % 50) AS pad'), bind('', '', [String(i)]), execute()]).flat(),
    sync(),
  ]);
  // distinct named statements, more than max_prepared_statements: the server's cache evicts mid-pipeline
  const named = Buffer.concat([...Array.from({ length: QUERIES }, (_, i) => [parse(`pipe_${i}`, sqlOf(i)), bind('', `pipe_${i}`), execute()]).flat(), sync()]);
  const simple = Buffer.concat(Array.from({ length: QUERIES }, (_, i) => query(sqlOf(i))));

  it.each(MODES)('%s mode: 10 000 Parse/Bind/Execute (unnamed, then named) before one Sync, and 10 000 simple queries, each in one write, get PostgreSQL\'s replies byte for byte', async (mode) => {
    const { direct, pooled } = await rawBoth(mode, async (client) => [
      (await replies(client, unnamed)).map(exact),
      (await replies(client, named)).map(exact),
      (await replies(client, simple, QUERIES)).map(exact),
    ]);
    expect(direct.map((r) => r.length)).toEqual([4 * QUERIES + 1, 4 * QUERIES + 1, 4 * QUERIES]);
    expect(pooled[0]).toEqual(direct[0]);
    expect(pooled[1]).toEqual(direct[1]);
    expect(pooled[2]).toEqual(direct[2]);
  });
});

describe('statement-name length', () => {
  /** a name of `bytes` bytes that starts with `prefix` */
  const nameOf = (prefix: string, bytes: number) => prefix + 'n'.repeat(bytes - prefix.length);

  it.each([63, 200])('transaction mode: a prepared statement named with %i bytes is parsed, described, bound on another server, refused and closed as direct', async (bytes) => {
    const name = nameOf(`s${bytes}_`, bytes);
    const steps = [
      Buffer.concat([parse(name, `SELECT $1::text AS v /* ${bytes} */`), describeMessage('S', name), bind('', name, ['first']), execute(), sync()]),
      Buffer.concat([bind('', name, ['second']), execute(), sync()]),
      Buffer.concat([bind('', name, []), execute(), sync()]),
      Buffer.concat([parse(name, 'SELECT 2'), sync()]),
      Buffer.concat([close('S', name), bind('', name, ['gone']), execute(), sync()]),
    ];
    // errors compare by SQLSTATE and message: the pooler answers 42P05 and 26000 itself, without PostgreSQL's source position
    const before = await serverParses();
    const { direct, pooled } = await rawBoth('transaction', async (client) => {
      const out: string[][] = [];
      for (const [i, step] of steps.entries()) {
        // the second step runs while another client holds the server the statement was prepared on
        out.push(transcript(i === 1 ? await whileServerHeld(() => replies(client, step)) : await replies(client, step)));
      }
      return out;
    });
    expect(direct[1]).toContain('D \0\x01\0\0\0\x06second');
    expect(direct[2]).toContain(`E 08P01 bind message supplies 0 parameters, but prepared statement "${name}" requires 1`);
    expect(direct[3]).toContain(`E 42P05 prepared statement "${name}" already exists`);
    expect(direct[4]).toContain(`E 26000 prepared statement "${name}" does not exist`);
    expect(pooled).toEqual(direct);
    // the client's Parse, and the pooler's own on the second server
    expect((await serverParses()) - before).toBe(2);
  });
});

describe('prepared statements per client', () => {
  const STATEMENTS = 1_000;
  /** every statement twice: node-postgres parses a name once per connection, so the second round is Bind only */
  async function twoRounds(client: pg.Client, prefix: string, texts: (i: number) => string): Promise<number[]> {
    const results: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < STATEMENTS; i++) {
        const { rows } = await client.query({ name: `${prefix}${i}`, text: texts(i), values: [round] });
        results.push(rows[0].n);
      }
    }
    return results;
  }

  it('transaction mode: 1 000 named statements from each of 3 node-postgres clients, each run twice, on a pool of 2 whose servers keep 200: every result as direct', async () => {
    const own = (i: number) => `SELECT $1::int * 1000 + ${i} AS n`;
    const other = (i: number) => `SELECT $1::int * 1000 - ${i} AS n`;
    const connect = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    };
    const directClients = await Promise.all([connect(directUrl()), connect(directUrl())]);
    const [direct, directOther] = await Promise.all([twoRounds(directClients[0]!, 'mine_', own), twoRounds(directClients[1]!, 'other_', other)]);
    await Promise.all(directClients.map((client) => client.end()));
    expect(direct).toEqual([...Array.from({ length: STATEMENTS }, (_, i) => i), ...Array.from({ length: STATEMENTS }, (_, i) => 1000 + i)]);
    // the same texts under other names share the servers' statements; other texts push them out
    const clients = await Promise.all([0, 1, 2].map(() => connect(pooler.url('transaction'))));
    try {
      const before = await serverParses();
      const pooled = await Promise.all([twoRounds(clients[0]!, 'mine_', own), twoRounds(clients[1]!, 'same_text_', own), twoRounds(clients[2]!, 'other_', other)]);
      expect(pooled).toEqual([direct, direct, directOther]);
      // each client holds its 1 000 names while each server keeps only the 200 it used last
      const held = (rows: Record<string, unknown>[]) => rows.filter((r) => r.database === 'transaction').map((r) => r.prepared_statements);
      expect(held(await show('CLIENTS'))).toEqual(expect.arrayContaining([STATEMENTS, STATEMENTS, STATEMENTS]));
      expect(held(await show('SERVERS'))).toEqual([200, 200]);
      console.log(`1 000 statements x 3 clients x 2 rounds on a pool of 2: ${(await serverParses()) - before} server parses`);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });
});

describe('reply size the pooler reads', () => {
  // errors and notices are read by the pooler up to 1 MB; these are twice that (a value echoed back)
  const big = 'x'.repeat(2 << 20);

  it.each(MODES)('%s mode: errors and notices of 2 MB, at Parse, at Bind of a named statement and from a simple query, reach the client as direct; the session goes on', async (mode) => {
    const exchanges: [Buffer, number][] = [
      // at Parse: the statement does not exist afterwards, and its name is free again
      [Buffer.concat([parse('big_parse', `SELECT '${big}'::int AS n`), sync(), bind('', 'big_parse'), execute(), sync()]), 2],
      [Buffer.concat([parse('big_parse', 'SELECT 1 AS n'), bind('', 'big_parse'), execute(), sync()]), 1],
      // at Bind: the rest up to Sync is skipped, the statement still works after it
      [Buffer.concat([parse('big_bind', 'SELECT $1::int AS n'), bind('', 'big_bind', [big]), execute(), sync(), bind('', 'big_bind', ['42']), execute(), sync()]), 2],
      [query(`SELECT '${big}'::int`), 1],
      [query(`DO $$ BEGIN RAISE NOTICE '%', repeat('n', ${2 << 20}); RAISE WARNING '%', repeat('w', ${2 << 20}); END $$; SELECT 'after' AS last`), 1],
    ];
    const { direct, pooled } = await rawBoth(mode, async (client) => {
      const out: string[][] = [];
      for (const [bytes, readyCount] of exchanges) out.push((await replies(client, bytes, readyCount)).map(exact));
      return out;
    });
    const longError = expect.stringMatching(/^E 2097\d{3} bytes [0-9a-f]{40}$/);
    expect(direct[0]).toEqual([longError, 'Z I', expect.stringMatching(/^E .*26000.*big_parse/), 'Z I']);
    expect(direct[1]).toEqual(['1 ', '2 ', 'D \0\x01\0\0\0\x011', 'C SELECT 1\0', 'Z I']);
    expect(direct[2]).toEqual(['1 ', longError, 'Z I', '2 ', 'D \0\x01\0\0\0\x0242', 'C SELECT 1\0', 'Z I']);
    expect(direct[3]).toEqual([longError, 'Z I']);
    expect(direct[4].slice(0, 2)).toEqual([expect.stringMatching(/^N 2097\d{3} bytes/), expect.stringMatching(/^N 2097\d{3} bytes/)]);
    expect(pooled).toEqual(direct);
  });
});

describe('clients per pool', () => {
  const CLIENTS = 1_000;
  /** what each client does: a query with its own value, and a transaction that sets and reads a setting */
  async function script(client: pg.Client, id: number): Promise<unknown[]> {
    const first = await client.query({ text: 'SELECT $1::int AS id', values: [id] });
    await client.query('BEGIN');
    await client.query(`SET LOCAL application_name = 'client_${id}'`);
    const inside = await client.query('SHOW application_name');
    await client.query('COMMIT');
    return [first.rows[0].id, inside.rows[0].application_name];
  }

  it('transaction mode: 1 000 node-postgres clients connected at once on a pool of 2 each get what the same queries get direct', async () => {
    const direct = new pg.Client({ connectionString: directUrl() });
    await direct.connect();
    const expected: unknown[][] = [];
    for (let id = 0; id < CLIENTS; id++) expected.push(await script(direct, id));
    await direct.end();
    const started = Date.now();
    const clients = Array.from({ length: CLIENTS }, () => new pg.Client({ connectionString: pooler.url('transaction') }));
    try {
      await Promise.all(clients.map((client) => client.connect()));
      const connected = Date.now();
      const results = await Promise.all(clients.map((client, id) => script(client, id)));
      console.log(`${CLIENTS} clients: connected in ${connected - started} ms, scripts done in ${Date.now() - connected} ms`);
      expect(results).toEqual(expected);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });
});

describe('bystanders', () => {
  it('the clients busy on each pool saw no error while all of the above ran', () => {
    for (const canary of canaries) {
      expect(canary.errors).toEqual([]);
      expect(canary.queries).toBeGreaterThan(50);
    }
  });
});

/** the rows of a SHOW command on the pooler's console */
async function show(what: string): Promise<Record<string, unknown>[]> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
  await admin.connect();
  try {
    return (await admin.query(`SHOW ${what}`)).rows;
  } finally {
    await admin.end();
  }
}

/** the Parses the transaction pool's servers were sent, by clients or by the pooler for them */
async function serverParses(): Promise<number> {
  return Number((await show('STATS')).find((r) => r.database === 'transaction')?.total_server_parse_count);
}

/** `work` while another client holds one of the transaction pool's servers in an open transaction */
async function whileServerHeld<T>(work: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: pooler.url('transaction') });
  await holder.connect();
  await holder.query('BEGIN; SELECT 1');
  try {
    return await work();
  } finally {
    await holder.query('COMMIT');
    await holder.end();
  }
}
