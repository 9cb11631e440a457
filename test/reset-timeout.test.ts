// The pooler's own queries time out: a server whose reset (DISCARD ALL in session mode) gets no
// answer — here the network to it goes silent — is closed after server_connect_timeout instead of
// sitting in `tested` for ever, and the pool serves the next client from a new server.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { TEST_DATABASE } from './harness/roles.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let proxy: FaultProxy;
let pooler: PoolerProcess;

beforeAll(async () => {
  proxy = await startFaultProxy(postgres);
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'session', server_connect_timeout: 1, admin_users: 'postgres', server_tls_sslmode: 'disable' },
    databases: { app: `host=127.0.0.1 port=${proxy.port} dbname=${TEST_DATABASE} pool_size=1` },
  });
});

afterAll(async () => {
  await pooler?.stop();
  await proxy?.close();
});

/** sv_tested and the server count of the app pool, from SHOW POOLS */
async function servers(): Promise<{ tested: number; total: number }> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer', 'postgres') });
  await admin.connect();
  const { rows } = await admin.query('SHOW POOLS');
  await admin.end();
  const row = rows.find((r) => r.database === 'app')!;
  const total = ['sv_active', 'sv_idle', 'sv_used', 'sv_tested', 'sv_login'].reduce((n, column) => n + Number(row[column]), 0);
  return { tested: Number(row.sv_tested), total };
}

it('a reset that gets no answer is given up after server_connect_timeout, and the next client gets a new server', async () => {
  const first = new pg.Client({ connectionString: pooler.url('app', 'postgres') });
  await first.connect();
  await first.query("SET application_name = 'first'");
  // from now on nothing reaches PostgreSQL and nothing comes back: the reset will hang
  proxy.set('up', { kind: 'blackhole' });
  proxy.set('down', { kind: 'blackhole' });
  await first.end();
  await expect.poll(servers, { timeout: 2000 }).toEqual({ tested: 1, total: 1 });
  const leftAt = Date.now();
  await expect.poll(servers, { timeout: 5000, interval: 100 }).toEqual({ tested: 0, total: 0 });
  console.log(`a hung reset was given up after ${Date.now() - leftAt} ms more (server_connect_timeout = 1 s)`);
  proxy.set('up', { kind: 'pass' });
  proxy.set('down', { kind: 'pass' });
  const next = new pg.Client({ connectionString: pooler.url('app', 'postgres') });
  await next.connect();
  expect((await next.query('SHOW application_name')).rows).toEqual([{ application_name: '' }]);
  await next.end();
});
