// The operator's commands that talk to a running pooler's console: `pooler stats` (tables and
// --json), `pooler top`, and `pooler demo`, which must run to the end on a machine like CI's.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { cli } from './support/cli.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 3, admin_users: 'postgres' },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
  });
  const client = new pg.Client({ connectionString: pooler.url('app') });
  await client.connect();
  for (let i = 0; i < 7; i++) await client.query('SELECT 1');
  await client.end();
});

afterAll(async () => {
  await pooler?.stop();
});

const target = () => ['-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres'];

describe('pooler stats', () => {
  it('--json gives pools and stats a script can read', async () => {
    const result = await cli(['stats', ...target(), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as { pools: Record<string, unknown>[]; stats: Record<string, unknown>[] };
    expect(parsed.pools.find((p) => p.database === 'app')).toMatchObject({ user: 'postgres', pool_mode: 'transaction', sv_idle: 1 });
    expect(parsed.stats.find((s) => s.database === 'app')).toMatchObject({ total_xact_count: 7, total_query_count: 7 });
  });

  it('prints aligned tables', async () => {
    const result = await cli(['stats', ...target()]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    const header = lines.find((line) => line.startsWith('database  | user'))!;
    const app = lines.find((line) => line.startsWith('app '))!;
    expect(app.indexOf('|')).toBe(header.indexOf('|'));
  });

  it('says where it could not connect, with exit status 1', async () => {
    const result = await cli(['stats', '-h', '127.0.0.1', '-p', '1', '-U', 'postgres']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach the pooler console at 127.0.0.1:1');
  });
});

describe('pooler top', () => {
  it('prints a frame per refresh with tps and wait p99 per pool', async () => {
    const result = await cli(['top', ...target(), '--count', '2', '--interval', '0.2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/pooler top/g)).toHaveLength(2);
    expect(result.stdout).toMatch(/database\s+\| user\s+\| cl_active \| cl_waiting \| sv_active \| sv_idle \| tps \| wait_p99_ms/);
  });
});

describe('pooler demo', () => {
  it('runs a throwaway PostgreSQL, pgbench through the pooler, and prints SHOW POOLS, then cleans up', async () => {
    const result = await cli(['demo', '--seconds', '2', '--clients', '10']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('number of failed transactions: 0');
    expect(result.stdout).toMatch(/^postgres\s+\| postgres\s+\|/m);
    expect(result.stdout).toContain('done: everything the demo started is gone');
  }, 120_000);
});
