// Bounds on what clients can make the pooler hold (issue 16): auto-databases and pools that
// clients invent are freed once idle, a console client that does not read stops being answered,
// sockets that never log in do not take max_client_conn, and CancelRequests neither open a
// server connection each nor reach a query of another client.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net/free-port.js';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';
import { TcpProxy } from './support/tcp-proxy.js';

const postgres = getPostgres();
const IDLE_TIMEOUT_S = 5;
let growth: PoolerProcess;
let limited: PoolerProcess;
let cancelling: PoolerProcess;
let proxy: TcpProxy;

beforeAll(async () => {
  const real = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  // nothing listens there: server logins fail at once, and PostgreSQL is spared 600 failed logins
  const dead = `host=127.0.0.1 port=${await freePort()}`;
  proxy = await TcpProxy.start(postgres.host, postgres.port);
  [growth, limited, cancelling] = await Promise.all([
    startPooler({
      settings: {
        auth_type: 'trust',
        admin_users: 'postgres',
        max_client_conn: 1000,
        autodb_idle_timeout: IDLE_TIMEOUT_S,
        pool_idle_timeout: IDLE_TIMEOUT_S,
        log_connections: 0,
        log_pooler_errors: 0,
      },
      databases: { app: real, dead, '*': dead },
    }),
    startPooler({
      settings: { auth_type: 'trust', admin_users: 'postgres', max_client_conn: 20 },
      databases: { app: real },
    }),
    startPooler({
      settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 1, max_client_conn: 200 },
      databases: { app: `host=127.0.0.1 port=${proxy.port} dbname=pooler_test` },
    }),
  ]);
});

afterAll(async () => {
  await growth?.stop();
  await limited?.stop();
  await cancelling?.stop();
  await proxy?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startup = (database: string, user = 'postgres') =>
  wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring(database).bytes('\0').untyped();

async function connect(through: PoolerProcess, database: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: through.url(database) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function show(through: PoolerProcess, what: string): Promise<Record<string, unknown>[]> {
  const admin = await connect(through, 'pgbouncer');
  try {
    return (await admin.query(`SHOW ${what}`)).rows;
  } finally {
    await admin.end();
  }
}

/** log in (trust) and read until the pooler closes the connection: the server login fails */
async function loginThatFails(through: PoolerProcess, database: string, user: string): Promise<void> {
  const client = await RawClient.connect(through.port);
  client.send(startup(database, user));
  while ((await client.readMessage(10_000)) !== null);
  client.close();
}

async function inBatches(count: number, batch: number, run: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < count; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_v, k) => run(start + k)));
  }
}

async function eventually(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(250);
  }
  return condition();
}

/** counts ReadyForQuery messages in what a socket receives */
class ReadyCounter {
  ready = 0;
  private rest: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
      let offset = 0;
      while (data.length - offset >= 5) {
        const end = offset + 1 + data.readUInt32BE(offset + 1);
        if (end > data.length) break;
        if (data[offset] === 0x5a) this.ready++;
        offset = end;
      }
      this.rest = data.subarray(offset);
      this.wake?.();
    });
  }

  async waitFor(count: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.ready < count && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.ready >= count;
  }
}

function sendCancel(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    // read (and drop) what comes, such as the error of a connection closed to make room, so the close is seen
    socket.resume();
    socket.on('connect', () => socket.end(wire().int32(80877102).int32(processId).int32(secretKey).untyped()));
  });
}

function cancelKey(client: pg.Client): { processId: number; secretKey: number } {
  const keyed = client as unknown as { processID: number; secretKey: number };
  return { processId: keyed.processID, secretKey: keyed.secretKey };
}

describe('what clients invent is freed once idle', () => {
  it('frees 500 auto-databases and 100 pools of invented users after autodb_idle_timeout / pool_idle_timeout', async () => {
    const names = (rows: Record<string, unknown>[], key: string, prefix: string) =>
      rows.filter((row) => String(row[key]).startsWith(prefix)).length;
    const databasesBefore = (await show(growth, 'DATABASES')).length;

    await inBatches(500, 100, (i) => loginThatFails(growth, `invented_${i}`, 'postgres'));
    await inBatches(100, 100, (i) => loginThatFails(growth, 'dead', `invented_user_${i}`));

    const databases = await show(growth, 'DATABASES');
    expect(names(databases, 'name', 'invented_')).toBe(500);
    const pools = await show(growth, 'POOLS');
    expect(names(pools, 'database', 'invented_')).toBe(500);
    expect(names(pools, 'user', 'invented_user_')).toBe(100);
    expect(names(await show(growth, 'STATS'), 'database', 'invented_')).toBe(500);

    const freed = await eventually(async () => {
      const pools = await show(growth, 'POOLS');
      return (
        (await show(growth, 'DATABASES')).length === databasesBefore &&
        names(pools, 'database', 'invented_') === 0 &&
        names(pools, 'user', 'invented_user_') === 0 &&
        names(await show(growth, 'STATS'), 'database', 'invented_') === 0
      );
    }, (IDLE_TIMEOUT_S + 10) * 1000);
    expect(freed).toBe(true);

    // what is configured, and in use, stays
    const app = await connect(growth, 'app');
    expect((await app.query('SELECT 1 AS n')).rows[0].n).toBe(1);
    await app.end();
    expect((await show(growth, 'DATABASES')).map((row) => row.name)).toEqual(expect.arrayContaining(['app', 'dead']));
  });
});

describe('the console does not answer a client that does not read', () => {
  it('keeps memory bounded through 20 000 pipelined SHOW CONFIG, then delivers every answer', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: growth.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const counter = new ReadyCounter(socket);
    socket.write(startup('pgbouncer'));
    expect(await counter.waitFor(1, 10_000)).toBe(true);

    const rssBefore = growth.rss();
    socket.pause();
    const query = wire().cstring('SHOW CONFIG').message('Q');
    socket.write(Buffer.concat(Array.from({ length: 20_000 }, () => query)));
    let peak = rssBefore;
    for (let i = 0; i < 20; i++) {
      await sleep(200);
      peak = Math.max(peak, growth.rss());
    }
    const growthMb = (peak - rssBefore) / 2 ** 20;
    console.log(`console pipelining: pooler RSS grew ${growthMb.toFixed(1)} MB while the client did not read`);

    socket.resume();
    const all = await counter.waitFor(20_001, 60_000);
    socket.destroy();
    expect(growthMb).toBeLessThan(64);
    expect(all).toBe(true);
  });
});

describe('sockets that never log in', () => {
  it('do not take max_client_conn: with 200 of them open, a client logs in and the console answers', async () => {
    const idle = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect({ host: '127.0.0.1', port: limited.port });
            socket.on('error', () => undefined);
            socket.once('connect', () => resolve(socket));
            setTimeout(() => reject(new Error('connect timed out')), 10_000);
          }),
      ),
    );
    try {
      await sleep(300);
      const client = await connect(limited, 'app');
      expect((await client.query('SELECT 2 AS n')).rows[0].n).toBe(2);
      const pools = await show(limited, 'POOLS');
      expect(pools.find((row) => row.database === 'app')?.cl_active).toBe(1);

      // max_client_conn still holds for clients that log in
      const more = await Promise.all(Array.from({ length: 19 }, () => connect(limited, 'app')));
      await expect(connect(limited, 'app')).rejects.toMatchObject({ code: '53300' });
      await Promise.all([client, ...more].map((c) => c.end()));
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });
});

describe('cancel requests', () => {
  it('1 000 CancelRequests for one running query open one connection to the server, not 1 000', async () => {
    const client = await connect(cancelling, 'app');
    await client.query('SELECT 1');
    proxy.swallowCancels = true;
    proxy.delayMs = 2000;
    try {
      const running = client.query('SELECT pg_sleep(2.5)');
      await sleep(200);
      const opened = proxy.opened;
      const { processId, secretKey } = cancelKey(client);
      await Promise.all([
        ...Array.from({ length: 1000 }, () => sendCancel(cancelling.port, processId, secretKey)),
        ...Array.from({ length: 1000 }, () => sendCancel(cancelling.port, 1 + Math.floor(Math.random() * 0x7ffffffe), Math.floor(Math.random() * 0x7fffffff))),
      ]);
      await running;
      await sleep(600);
      const forwarded = proxy.opened - opened;
      console.log(`1000 cancels for one query (and 1000 with random keys): ${forwarded} connection(s) toward PostgreSQL`);
      expect(forwarded).toBeLessThanOrEqual(1);
      expect((await client.query('SELECT 3 AS n')).rows[0].n).toBe(3);
    } finally {
      proxy.swallowCancels = false;
      proxy.delayMs = 0;
      await client.end();
    }
  });

  it('a cancel sent as a query ends never reaches the next client\'s query on the same server (50 rounds)', async () => {
    const first = await connect(cancelling, 'app');
    const second = await connect(cancelling, 'app');
    await first.query('SELECT 1');
    // a cancel takes 100 ms to reach PostgreSQL: longer than the rest of the first client's query
    proxy.delayMs = 100;
    const failures: string[] = [];
    try {
      const { processId, secretKey } = cancelKey(first);
      for (let round = 0; round < 50; round++) {
        const ending = first.query('SELECT pg_sleep(0.05)');
        await sleep(5);
        const cancelSent = sleep(Math.random() * 60).then(() => sendCancel(cancelling.port, processId, secretKey));
        const next = second.query('SELECT pg_sleep(0.15)');
        const [, nextResult] = await Promise.allSettled([ending, next, cancelSent]);
        if (nextResult.status === 'rejected') failures.push(`round ${round}: ${(nextResult.reason as Error).message}`);
      }
    } finally {
      proxy.delayMs = 0;
      await first.end();
      await second.end();
    }
    expect(failures).toEqual([]);
  });
});
