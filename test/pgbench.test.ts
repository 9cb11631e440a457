// pgbench through transaction pooling: 100 clients over pool_size = 5, select-only and TPC-B, simple
// and extended protocol. No transaction may fail, and PostgreSQL never sees more than 5 pooler
// connections. The same runs go to PostgreSQL directly so the log shows both figures side by side.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runPgbench } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
const DB = 'pgbench_tx';
let pooler: PoolerProcess;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  const init = await runPgbench(['-i', '-s', '2', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', DB], { PGAPPNAME: DIRECT_APP });
  expect(init.code, init.stderr).toBe(0);
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 5, max_client_conn: 200 },
    databases: { [DB]: `host=${postgres.host} port=${postgres.port}` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

/** the same runs straight to PostgreSQL carry this application_name, so their backends, which
 *  may still be exiting when the next run starts, are not counted as the pooler's */
const DIRECT_APP = 'pgbench_direct';

/**
 * The highest number of pooler server connections PostgreSQL showed for the database while `work`
 * ran: client backends only, since TPC-B's updates bring autovacuum workers into the database too.
 */
async function peakServerConnections(work: Promise<unknown>): Promise<number> {
  const observer = new pg.Client({ connectionString: postgres.url('postgres') });
  await observer.connect();
  let peak = 0;
  let running = true;
  void work.finally(() => (running = false));
  while (running) {
    const { rows } = await observer.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2 AND backend_type = 'client backend'", [DB, DIRECT_APP]);
    peak = Math.max(peak, rows[0].n);
    await new Promise((r) => setTimeout(r, 100));
  }
  await observer.end();
  return peak;
}

describe.each([
  ['select-only', ['-S']],
  ['TPC-B', []],
])('pgbench %s, 100 clients, pool_size 5', (_name, workload) => {
  it.each(['simple', 'extended'])('-M %s: no failed transaction, never more than 5 server connections', async (mode) => {
    const args = ['-c', '100', '-j', '2', '-T', '4', '-M', mode, ...workload, '-U', 'postgres', DB];
    const through = runPgbench(['-h', '127.0.0.1', '-p', String(pooler.port), ...args]);
    const peak = await peakServerConnections(through);
    const result = await through;
    expect(result.code, result.stderr).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.tps).toBeGreaterThan(0);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(5);

    const direct = await runPgbench(['-h', postgres.host, '-p', String(postgres.port), ...args], { PGAPPNAME: DIRECT_APP });
    console.log(
      `pgbench ${workload.join(' ') || 'tpcb'} -M ${mode} -c 100: pooler ${result.tps?.toFixed(0)} tps (pool 5), ` +
        `direct ${direct.tps?.toFixed(0)} tps (100 backends)`,
    );
  });
});
