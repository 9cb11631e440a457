// Bounds on what clients can make the pooler hold (issue 16): a console client that does not
// read stops being answered, sockets that never log in do not take max_client_conn, and
// CancelRequests neither open a server connection each nor reach a query of another client.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { TcpProxy } from './support/tcp-proxy.js';

const postgres = getPostgres();
let growth: PoolerProcess;
let limited: PoolerProcess;
let cancelling: PoolerProcess;
let proxy: TcpProxy;

beforeAll(async () => {
  const real = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  proxy = await TcpProxy.start(postgres.host, postgres.port);
  [growth, limited, cancelling] = await Promise.all([
    startPooler({
      settings: { auth_type: 'trust', admin_users: 'postgres', log_connections: 0, log_pooler_errors: 0 },
      databases: { app: real },
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
