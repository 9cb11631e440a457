// Hostile and broken logins: an oversized startup packet, message lengths that lie, a SCRAM proof
// that was tampered with, a replayed SCRAM exchange, a client that never finishes logging in, and
// 2 000 half-open connections at once. Each gets the right error or a close, and a client that
// is logged in keeps running queries throughout.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScramClient } from '../src/auth/scram-client.js';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
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
  it('refuses a startup packet over 10 000 bytes with 08P01 and closes', async () => {
    const client = await RawClient.connect(pooler.port);
    const huge = wire().int32(196608).cstring('user').cstring('x'.repeat(10_050)).bytes(Buffer.from([0])).untyped();
    client.send(huge);
    expectError(await client.readMessage(), '08P01', /invalid startup packet length 10\d{3}/);
    expect(await closes(client)).toBe(true);
  });

  it('refuses a startup length below the minimum, and a login message whose length lies', async () => {
    const tiny = await RawClient.connect(pooler.port);
    tiny.send(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]));
    expectError(await tiny.readMessage(), '08P01', /invalid startup packet length 3/);

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
