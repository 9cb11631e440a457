// The /metrics conversion from the pooler's own counters: per-bucket microsecond histograms become
// cumulative Prometheus histograms in seconds, and microsecond totals become seconds counters.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { DatabaseStats } from '../stats/database-stats.js';
import { removeScratchDirs, scratchDir } from '../testing/scratch-dir.js';
import { createPoolerMetrics, type MetricsView } from './pooler-metrics.js';

afterAll(removeScratchDirs);

/** the console's views of a pooler with no pools yet and these stats: the registry only reads views */
function viewWith(stats: DatabaseStats): MetricsView {
  const dir = scratchDir('pooler-metrics-');
  writeFileSync(
    path.join(dir, 'pooler.ini'),
    '[databases]\napp = host=127.0.0.1 port=5432 dbname=app pool_size=7\n[pgbouncer]\nauth_type = trust\nmax_client_conn = 321\n',
  );
  const config = loadConfig({ file: 'pooler.ini', env: {}, cwd: dir });
  return { config, pools: () => [], stats: () => [stats], topologies: () => [], hosts: () => [] };
}

/** sample lines as `name{labels}` → value */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** the _bucket samples as [upper bound, cumulative count], +Inf as Infinity */
function buckets(text: string): [number, number][] {
  return [...samples(text)]
    .filter(([key]) => key.includes('_bucket{'))
    .map(([key, value]) => {
      const le = /le="([^"]+)"/.exec(key)![1]!;
      return [le === '+Inf' ? Infinity : Number(le), value];
    });
}

describe('createPoolerMetrics', () => {
  it('turns per-bucket microsecond counts into cumulative buckets in seconds', async () => {
    const stats = new DatabaseStats('app');
    // 30 µs falls in the first bucket (≤ 50 µs), 120 µs twice in ≤ 250 µs, 70 s beyond the last bound
    for (const us of [30, 120, 120, 70_000_000]) stats.transactionHistogram.record(us);

    const text = await createPoolerMetrics(viewWith(stats)).getSingleMetricAsString('pooler_transaction_duration_seconds');
    expect(text).toContain('# TYPE pooler_transaction_duration_seconds histogram');
    // bounds compared as numbers: µs × 1e-6 renders 50 µs as le="0.000049999999999999996"
    const bucket = (le: number) => buckets(text).find(([bound]) => bound === le || Math.abs(bound - le) < le * 1e-9)?.[1];
    expect(bucket(0.00005)).toBe(1);
    expect(bucket(0.0001)).toBe(1);
    expect(bucket(0.00025)).toBe(3);
    expect(bucket(60)).toBe(3);
    expect(bucket(Infinity)).toBe(4);
    const s = samples(text);
    expect(s.get('pooler_transaction_duration_seconds_count{database="app"}')).toBe(4);
    expect(s.get('pooler_transaction_duration_seconds_sum{database="app"}')).toBeCloseTo(70.00027, 9);
  });

  it('reports microsecond totals as seconds under pgbouncer_exporter names', async () => {
    const stats = new DatabaseStats('app');
    stats.transactionTime = 2_500_000;
    stats.queryTime = 1_500_000;
    stats.waitTime = 500_000;
    stats.queries = 250;
    stats.clientParses = 100;
    stats.serverParses = 5;
    stats.binds = 9000;

    const s = samples(await createPoolerMetrics(viewWith(stats)).metrics());
    expect(s.get('pgbouncer_stats_server_in_transaction_seconds_total{database="app"}')).toBe(2.5);
    expect(s.get('pgbouncer_stats_queries_duration_seconds_total{database="app"}')).toBe(1.5);
    expect(s.get('pgbouncer_stats_client_wait_seconds_total{database="app"}')).toBe(0.5);
    expect(s.get('pgbouncer_stats_queries_pooled_total{database="app"}')).toBe(250);
    expect(s.get('pgbouncer_stats_client_parses_total{database="app"}')).toBe(100);
    expect(s.get('pgbouncer_stats_server_parses_total{database="app"}')).toBe(5);
    expect(s.get('pgbouncer_stats_binds_total{database="app"}')).toBe(9000);
    expect(s.get('pgbouncer_config_max_client_connections')).toBe(321);
    expect(s.get('pgbouncer_up')).toBe(1);
    const poolSize = [...s].find(([key]) => key.startsWith('pgbouncer_databases_pool_size{') && key.includes('name="app"'));
    expect(poolSize?.[1]).toBe(7);
  });
});
