// /metrics, /healthz and /readyz as Prometheus and Kubernetes use them: pgbouncer_exporter's metric
// names with values that agree with SHOW STATS and SHOW POOLS, the latency histograms, and
// readiness that turns 503 while a database is down and 200 once it is back.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres } from '../src/demo/local-postgres.js';
import { freePort } from '../src/net/free-port.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
let pooler: PoolerProcess;
let metricsPort: number;

beforeAll(async () => {
  metricsPort = await freePort();
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 2, admin_users: 'postgres', metrics_port: metricsPort },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/** the value of one sample line, e.g. metric('pgbouncer_stats_queries_pooled_total', 'database="app"') */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  if (line === undefined) throw new Error(`no ${name}{${labels}} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('/metrics', () => {
  it('counts queries and transactions as SHOW STATS does, with a matching transaction histogram', async () => {
    const client = new pg.Client({ connectionString: pooler.url('app') });
    await client.connect();
    for (let i = 0; i < 25; i++) await client.query('SELECT 1');
    await client.query('BEGIN');
    await client.query('SELECT 2');
    await client.query('COMMIT');
    await client.end();

    const { status, body } = await get(metricsPort, '/metrics');
    expect(status).toBe(200);
    const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
    await admin.connect();
    const stats = (await admin.query('SHOW STATS')).rows.find((r) => r.database === 'app');
    await admin.end();

    expect(sample(body, 'pgbouncer_stats_queries_pooled_total', 'database="app"')).toBe(Number(stats.total_query_count));
    expect(sample(body, 'pgbouncer_stats_sql_transactions_pooled_total', 'database="app"')).toBe(26);
    expect(Number(stats.total_xact_count)).toBe(26);
    expect(sample(body, 'pooler_transaction_duration_seconds_count', 'database="app"')).toBe(26);
    expect(sample(body, 'pooler_transaction_duration_seconds_bucket', 'le="+Inf"')).toBe(26);
    expect(sample(body, 'pgbouncer_stats_received_bytes_total', 'database="app"')).toBe(Number(stats.total_received));
    expect(body).toContain('process_resident_memory_bytes');
  });

  it('shows one active client while a client holds a transaction', async () => {
    const client = new pg.Client({ connectionString: pooler.url('app') });
    await client.connect();
    await client.query('BEGIN');
    const { body } = await get(metricsPort, '/metrics');
    expect(sample(body, 'pgbouncer_pools_server_active_connections', 'database="app",user="postgres"')).toBe(1);
    expect(sample(body, 'pgbouncer_pools_client_active_connections', 'database="app",user="postgres"')).toBe(1);
    await client.query('COMMIT');
    await client.end();
  });
});

describe('/healthz and /readyz', () => {
  it('answers /healthz with 200 and /readyz with 200 when the database is reachable', async () => {
    expect((await get(metricsPort, '/healthz')).status).toBe(200);
    const ready = await get(metricsPort, '/readyz');
    expect(ready.status, ready.body).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, reasons: [] });
  });

  it('turns /readyz 503 with a reason while its PostgreSQL is down, and 200 once it is back', async () => {
    // a PostgreSQL of this test's own, so stopping it disturbs nobody else
    const own = await startLocalPostgres(await freePort(), ['host all all 127.0.0.1/32 trust']);
    const probePort = await freePort();
    const watched = await startPooler({
      settings: { auth_type: 'trust', metrics_port: probePort, server_login_retry: 1 },
      databases: { flaky: `host=127.0.0.1 port=${own.port} dbname=postgres` },
    });
    try {
      const client = new pg.Client({ connectionString: watched.url('flaky') });
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      expect((await get(probePort, '/readyz')).status).toBe(200);

      await own.halt();
      const down = await waitUntil(() => get(probePort, '/readyz'), (r) => r.status === 503, '/readyz to turn 503');
      expect(JSON.parse(down.body).reasons[0]).toMatch(/^database flaky: /);

      await own.start();
      const back = await waitUntil(() => get(probePort, '/readyz'), (r) => r.status === 200, '/readyz to turn 200');
      expect(JSON.parse(back.body)).toEqual({ ready: true, reasons: [] });
    } finally {
      await watched.stop();
      await own.stop();
    }
  });
});
