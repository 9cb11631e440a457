// pgbench -M prepared through transaction pooling: 100 clients over pool_size = 5 share the
// statements each server prepared, so none fails and PostgreSQL parses each statement about once
// per server connection, not once per client. The same run direct to PostgreSQL prints next to it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runPgbench } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
const DB = 'pgbench_prepared';
const POOL_SIZE = 5;
let pooler: PoolerProcess;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  const init = await runPgbench(['-i', '-s', '2', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', DB]);
  expect(init.code, init.stderr).toBe(0);
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: POOL_SIZE, max_client_conn: 200, admin_users: 'postgres' },
    databases: { [DB]: `host=${postgres.host} port=${postgres.port}` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

interface ParseCounts {
  client: number;
  server: number;
  bind: number;
}

async function parseCounts(): Promise<ParseCounts> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
  await admin.connect();
  const { rows } = await admin.query('SHOW STATS');
  await admin.end();
  const row = rows.find((r) => r.database === DB) ?? {};
  return { client: Number(row.total_client_parse_count ?? 0), server: Number(row.total_server_parse_count ?? 0), bind: Number(row.total_bind_count ?? 0) };
}

describe.each([
  ['select-only', ['-S'], 1],
  // BEGIN, three UPDATEs, SELECT, INSERT, END
  ['TPC-B', [], 7],
])('pgbench -M prepared %s, 100 clients, pool_size 5', (name, workload, statements) => {
  it('has no failed transaction, and servers parse each statement about once each', async () => {
    const args = ['-c', '100', '-j', '2', '-T', '4', '-M', 'prepared', ...workload, '-U', 'postgres', DB];
    const before = await parseCounts();
    const through = await runPgbench(['-h', '127.0.0.1', '-p', String(pooler.port), ...args]);
    const after = await parseCounts();
    expect(through.code, through.stderr).toBe(0);
    expect(through.failed).toBe(0);
    expect(through.stderr).not.toMatch(/does not exist/);
    const client = after.client - before.client;
    const server = after.server - before.server;
    const binds = after.bind - before.bind;
    expect(client).toBeGreaterThanOrEqual(100 * statements);
    expect(server).toBeGreaterThanOrEqual(statements);
    expect(server).toBeLessThanOrEqual(POOL_SIZE * statements);
    expect(binds).toBeGreaterThan(client);

    const direct = await runPgbench(['-h', postgres.host, '-p', String(postgres.port), ...args]);
    expect(direct.code, direct.stderr).toBe(0);
    console.log(
      `pgbench -M prepared ${name} -c 100: pooler ${through.tps.toFixed(0)} tps (pool ${POOL_SIZE}), direct ${direct.tps.toFixed(0)} tps (100 backends); ` +
        `parse counts: client ${client}, server ${server} (pool ${POOL_SIZE} × ${statements} statements = ${POOL_SIZE * statements}), binds ${binds}`,
    );
  });
});
