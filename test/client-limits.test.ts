// Limits and timeouts on the client side, each with the error a user can act on:
// max_db_connections and max_user_connections make clients queue rather than fail, and
// client_login_timeout, client_idle_timeout and query_timeout end the client that overstays.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let limits: PoolerProcess;
let timeouts: PoolerProcess;

beforeAll(async () => {
  for (const name of ['cl_db', 'cl_u1', 'cl_u2']) await postgres.createDatabase(name);
  const server = `host=${postgres.host} port=${postgres.port}`;
  limits = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 5, query_wait_timeout: 20 },
    databases: {
      cl_db: `${server} dbname=cl_db max_db_connections=1`,
      cl_u1: `${server} dbname=cl_u1`,
      cl_u2: `${server} dbname=cl_u2`,
    },
    users: { trust_user: 'max_user_connections=1' },
  });
  timeouts = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', client_login_timeout: 1, client_idle_timeout: 1, query_timeout: 1 },
    databases: { app: `${server} dbname=pooler_test` },
  });
});

afterAll(async () => {
  await limits?.stop();
  await timeouts?.stop();
});

async function connect(through: PoolerProcess, database: string, user = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: through.url(database, user) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** runs `query` on `waiter` while `holder` keeps a transaction open, and says which finished first */
async function queuedBehind(holder: pg.Client, waiter: pg.Client): Promise<string[]> {
  const order: string[] = [];
  await holder.query('BEGIN');
  const waiting = waiter.query('SELECT 1').then(() => order.push('waiter ran'));
  await new Promise((r) => setTimeout(r, 700));
  order.push('holder commits');
  await holder.query('COMMIT');
  await waiting;
  return order;
}

describe('connection caps queue clients instead of failing them', () => {
  it('max_db_connections: a second user of the database waits for the first one\'s server', async () => {
    const holder = await connect(limits, 'cl_db', 'postgres');
    const waiter = await connect(limits, 'cl_db', 'trust_user');
    expect(await queuedBehind(holder, waiter)).toEqual(['holder commits', 'waiter ran']);
    expect(await postgres.backendCount('cl_db')).toBe(1);
    await Promise.all([holder.end(), waiter.end()]);
  });

  it('max_user_connections: the same user on a second database waits for the first server', async () => {
    const holder = await connect(limits, 'cl_u1', 'trust_user');
    const waiter = await connect(limits, 'cl_u2', 'trust_user');
    expect(await queuedBehind(holder, waiter)).toEqual(['holder commits', 'waiter ran']);
    await Promise.all([holder.end(), waiter.end()]);
  });
});

describe('client timeouts', () => {
  it('client_login_timeout: closes a connection that never finishes logging in', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: timeouts.port });
    socket.on('error', () => undefined);
    socket.resume(); // read the pooler's error, or 'close' never comes
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const stillOpenAfter5s = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 5000));
    expect(await Promise.race([closed.then(() => 'closed'), stillOpenAfter5s])).toBe('closed');
  });

  it('client_idle_timeout: ends a client idle outside a transaction with 57P05', async () => {
    const client = new pg.Client({ connectionString: timeouts.url('app') });
    const errors: Array<Error & { code?: string }> = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    await client.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 2000));
    expect(errors[0]).toMatchObject({ code: '57P05', message: expect.stringContaining('client_idle_timeout') });
    await client.end().catch(() => undefined);
  });

  it('query_timeout: ends a query running longer, with 57014', async () => {
    const client = await connect(timeouts, 'app');
    await expect(client.query('SELECT pg_sleep(5)')).rejects.toMatchObject({
      code: '57014',
      message: expect.stringContaining('query_timeout'),
    });
    await client.end().catch(() => undefined);
  });
});
