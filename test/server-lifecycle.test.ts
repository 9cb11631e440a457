// The life of server connections as a user of PgBouncer expects it: idle ones close, min_pool_size
// keeps some open, old ones retire, dead ones are found by server_check_query, the reserve pool
// helps a stuck queue, and an unreachable or silent server gives clients the real error at once.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { freePort } from '../src/net/free-port.js';
import { backendPid, quietClient } from './support/pg-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
const DATABASES = ['lc_idle', 'lc_min', 'lc_life', 'lc_check', 'lc_reserve', 'lc_reset', 'lc_gone'];
let pooler: PoolerProcess;
let alwaysReset: PoolerProcess;
/** accepts TCP connections and never answers, like a server that hangs during login */
let silentServer: net.Server;
const silentSockets: net.Socket[] = [];

beforeAll(async () => {
  for (const name of DATABASES) await postgres.createDatabase(name);
  silentServer = net.createServer((socket) => silentSockets.push(socket));
  await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
  const silentPort = (silentServer.address() as net.AddressInfo).port;
  const closedPort = await freePort();
  const server = `host=${postgres.host} port=${postgres.port}`;
  pooler = await startPooler({
    settings: {
      auth_type: 'trust',
      pool_mode: 'transaction',
      default_pool_size: 1,
      server_idle_timeout: 1,
      server_check_delay: 0,
      server_check_query: 'select 1',
      server_login_retry: 5,
      server_connect_timeout: 1,
      query_wait_timeout: 10,
      reserve_pool_timeout: 0.5,
    },
    databases: {
      lc_idle: `${server} dbname=lc_idle`,
      lc_min: `${server} dbname=lc_min pool_size=3 min_pool_size=2`,
      lc_life: `${server} dbname=lc_life server_lifetime=1`,
      lc_check: `${server} dbname=lc_check`,
      lc_reserve: `${server} dbname=lc_reserve reserve_pool_size=1`,
      lc_gone: `${server} dbname=lc_gone`,
      lc_down: `host=127.0.0.1 port=${closedPort} dbname=postgres`,
      lc_silent: `host=127.0.0.1 port=${silentPort} dbname=postgres`,
    },
  });
  alwaysReset = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 1, server_reset_query_always: 1 },
    databases: { lc_reset: `${server} dbname=lc_reset` },
  });
});

afterAll(async () => {
  await pooler?.stop();
  await alwaysReset?.stop();
  for (const socket of silentSockets) socket.destroy();
  silentServer?.close();
});

const connect = (through: PoolerProcess, database: string): Promise<pg.Client> => quietClient(through.url(database));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('server connections', () => {
  it('closes a server idle longer than server_idle_timeout', async () => {
    const client = await connect(pooler, 'lc_idle');
    await client.query('SELECT 1');
    await client.end();
    expect(await postgres.backendCount('lc_idle')).toBe(1);
    await waitUntil(() => postgres.backendCount('lc_idle'), (n) => n === 0, 'the idle server to close');
  });

  it('opens min_pool_size servers once the pool exists, and keeps them past server_idle_timeout', async () => {
    const client = await connect(pooler, 'lc_min');
    await client.query('SELECT 1');
    await client.end();
    await waitUntil(() => postgres.backendCount('lc_min'), (n) => n === 2, 'min_pool_size servers');
    await sleep(2000);
    expect(await postgres.backendCount('lc_min')).toBe(2);
  });

  it('retires a server older than server_lifetime when it is released, even while in use', async () => {
    const client = await connect(pooler, 'lc_life');
    const pids = new Set<number>();
    for (let i = 0; i < 12; i++) {
      pids.add(await backendPid(client));
      await sleep(200);
    }
    await client.end();
    expect(pids.size).toBeGreaterThan(1);
  });

  it('finds a dead idle server with server_check_query and gives the client a fresh one', async () => {
    const client = await connect(pooler, 'lc_check');
    const first = await backendPid(client);
    await postgres.psql(`SELECT pg_terminate_backend(${first})`);
    await waitUntil(() => postgres.backendCount('lc_check'), (n) => n === 0, 'the backend to exit');
    const second = await backendPid(client);
    expect(second).not.toBe(first);
    await client.end();
  });

  it('keeps a transaction-mode client whose server ends right after answering it', async () => {
    const client = await connect(pooler, 'lc_gone');
    let lost: unknown = null;
    client.on('error', (error) => (lost = error));
    const first = await backendPid(client);
    const answer = client.query('SELECT pg_sleep(0.3), 7 AS seven');
    await sleep(100);
    // with the pooler stopped, the answer and then the server's FATAL wait in one socket buffer,
    // so the pooler reads both at once, before it has released the server
    process.kill(pooler.pid, 'SIGSTOP');
    try {
      await sleep(400);
      await postgres.psql(`SELECT pg_terminate_backend(${first})`);
      await waitUntil(() => postgres.backendCount('lc_gone'), (n) => n === 0, 'the backend to exit');
    } finally {
      process.kill(pooler.pid, 'SIGCONT');
    }
    expect((await answer).rows[0].seven).toBe(7);
    expect(await backendPid(client)).not.toBe(first);
    expect(lost).toBeNull();
    await client.end();
  });

  it('opens a reserve_pool_size server for a client that waited reserve_pool_timeout', async () => {
    const holder = await connect(pooler, 'lc_reserve');
    await holder.query('BEGIN');
    const holderPid = await backendPid(holder);
    const waiter = await connect(pooler, 'lc_reserve');
    const waiterPid = await backendPid(waiter);
    expect(waiterPid).not.toBe(holderPid);
    expect(await postgres.backendCount('lc_reserve')).toBe(2);
    await holder.query('COMMIT');
    await Promise.all([holder.end(), waiter.end()]);
  });
});

describe('server reset', () => {
  it('keeps a plain SET with its client in transaction mode: the next client of that server sees its own value (PgBouncer would leak it)', async () => {
    const setter = await connect(pooler, 'lc_idle');
    await setter.query("SET work_mem = '7MB'");
    const setterPid = await backendPid(setter);
    const reader = await connect(pooler, 'lc_idle');
    expect(await backendPid(reader)).toBe(setterPid);
    const { rows } = await reader.query('SHOW work_mem');
    expect(rows[0].work_mem).toBe('4MB');
    expect((await setter.query('SHOW work_mem')).rows[0].work_mem).toBe('7MB');
    await Promise.all([setter.end(), reader.end()]);
  });

  it('runs server_reset_query in transaction mode too with server_reset_query_always', async () => {
    const setter = await connect(alwaysReset, 'lc_reset');
    await setter.query("SET work_mem = '7MB'");
    const setterPid = await backendPid(setter);
    const reader = await connect(alwaysReset, 'lc_reset');
    await setter.end();
    expect(await backendPid(reader)).toBe(setterPid);
    const { rows } = await reader.query('SHOW work_mem');
    expect(rows[0].work_mem).toBe('4MB');
    await reader.end();
  });
});

describe('unreachable servers', () => {
  it('gives the real connect error, and gives it at once to the next client during server_login_retry', async () => {
    const started = Date.now();
    const first = connect(pooler, 'lc_down');
    await expect(first).rejects.toMatchObject({ code: '08006', message: expect.stringContaining('ECONNREFUSED') });
    const second = connect(pooler, 'lc_down');
    await expect(second).rejects.toMatchObject({ code: '08006', message: expect.stringContaining('ECONNREFUSED') });
    // both answered long before query_wait_timeout (10 s): nobody queued for a server that is down
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up on a server that does not answer the login within server_connect_timeout', async () => {
    await expect(connect(pooler, 'lc_silent')).rejects.toMatchObject({
      code: '08006',
      message: expect.stringContaining('server_connect_timeout'),
    });
  });
});
