// The pooler's Prometheus metrics: pgbouncer_exporter's names and labels (so existing dashboards
// work), latency histograms for wait and transaction time, and Node's process metrics. Every value
// is read from the pools' lists and the stats counters at scrape time.
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ConsoleView, PoolSnapshot } from '../admin/console-context.js';
import { effectiveSetting } from '../config/effective.js';
import { VERSION } from '../admin/show-config.js';
import type { DatabaseStats } from '../stats/database-stats.js';
import { LATENCY_BUCKETS_US, type LatencyHistogram } from '../stats/latency-histogram.js';
import { registerFailoverMetrics } from './failover-metrics.js';
import { registerHostMetrics } from './host-metrics.js';
import { registerScrapeMetric, type Sample } from './scrape-metric.js';

const POOL_GAUGES: [string, string, (pool: PoolSnapshot) => number][] = [
  ['client_active_connections', 'Client connections linked to a server connection or idle between transactions', (p) => p.clientsActive],
  ['client_waiting_connections', 'Client connections waiting for a server connection', (p) => p.clientsWaiting],
  ['server_active_connections', 'Server connections linked to a client', (p) => p.serversActive],
  ['server_idle_connections', 'Server connections idle and ready for a client', (p) => p.serversIdle],
  ['server_used_connections', 'Server connections idle longer than server_check_delay', (p) => p.serversUsed],
  ['server_testing_connections', 'Server connections running server_reset_query or server_check_query', (p) => p.serversTested],
  ['server_login_connections', 'Server connections logging in', (p) => p.serversLogin],
  ['client_maxwait_seconds', 'Age of the oldest waiting client, in seconds', (p) => p.maxWait / 1000],
];

/** what the metrics read: the console's views */
export type MetricsView = Pick<ConsoleView, 'config' | 'pools' | 'stats' | 'topologies' | 'hosts'>;

const MICROS = 1e-6;
const STATS_COUNTERS: [string, string, (s: DatabaseStats) => number][] = [
  ['queries_pooled_total', 'SQL queries pooled', (s) => s.queries],
  ['queries_duration_seconds_total', 'Seconds spent by the pooler connected to PostgreSQL executing queries', (s) => s.queryTime * MICROS],
  ['received_bytes_total', 'Bytes received from clients', (s) => s.received],
  ['sent_bytes_total', 'Bytes sent by servers to clients', (s) => s.sent],
  ['client_wait_seconds_total', 'Seconds clients waited for a server', (s) => s.waitTime * MICROS],
  ['sql_transactions_pooled_total', 'SQL transactions pooled', (s) => s.transactions],
  ['server_in_transaction_seconds_total', 'Seconds servers spent in transactions', (s) => s.transactionTime * MICROS],
  ['server_assignments_total', 'Times a server was assigned to a client', (s) => s.serverAssignments],
  ['client_parses_total', 'Named Parse messages from clients (prepared statements)', (s) => s.clientParses],
  ['server_parses_total', 'Parse messages sent to servers for prepared statements', (s) => s.serverParses],
  ['binds_total', 'Bind messages of named prepared statements', (s) => s.binds],
];

/** a LatencyHistogram (per-bucket counts in µs) as a cumulative Prometheus histogram in seconds */
function histogramSamples(name: string, database: string, histogram: LatencyHistogram): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  LATENCY_BUCKETS_US.forEach((bound, i) => {
    cumulative += histogram.counts[i]!;
    // divide rather than multiply by 1e-6: 50 * 1e-6 prints as 0.000049999999999999996, and a
    // dashboard selecting le="0.00005" would find nothing
    samples.push({ metricName: `${name}_bucket`, labels: { database, le: bound / 1e6 }, value: cumulative });
  });
  samples.push({ metricName: `${name}_bucket`, labels: { database, le: '+Inf' }, value: histogram.count });
  samples.push({ metricName: `${name}_sum`, labels: { database }, value: histogram.sum * MICROS });
  samples.push({ metricName: `${name}_count`, labels: { database }, value: histogram.count });
  return samples;
}

export function createPoolerMetrics(view: MetricsView): Registry {
  const registry = new Registry();
  const pools = () => view.pools();
  const stats = () => view.stats();

  registerScrapeMetric(registry, 'pgbouncer_up', 'The pooler is up and answering', 'gauge', () => [{ labels: {}, value: 1 }]);
  registerScrapeMetric(registry, 'pgbouncer_version_info', 'The pooler version', 'gauge', () => [{ labels: { version: VERSION }, value: 1 }]);
  for (const [suffix, help, read] of POOL_GAUGES) {
    registerScrapeMetric(registry, `pgbouncer_pools_${suffix}`, help, 'gauge', () =>
      pools().map((pool) => ({ labels: { database: pool.database, user: pool.user }, value: read(pool) })),
    );
  }
  for (const [suffix, help, read] of STATS_COUNTERS) {
    registerScrapeMetric(registry, `pgbouncer_stats_${suffix}`, help, 'counter', () =>
      stats().map((s) => ({ labels: { database: s.database }, value: read(s) })),
    );
  }
  registerScrapeMetric(registry, 'pgbouncer_databases_current_connections', 'Server connections per database', 'gauge', () =>
    [...view.config.databases.values()].map((db) => ({
      labels: { name: db.name, host: db.host, port: db.port, database: db.dbname, force_user: db.user ?? '', pool_mode: db.pool_mode ?? '' },
      value: pools().filter((p) => p.database === db.name).reduce((n, p) => n + p.serverCount, 0),
    })),
  );
  registerScrapeMetric(registry, 'pgbouncer_databases_pool_size', 'Configured pool size per database', 'gauge', () =>
    [...view.config.databases.values()].map((db) => ({
      labels: { name: db.name, host: db.host, port: db.port, database: db.dbname, force_user: db.user ?? '', pool_mode: db.pool_mode ?? '' },
      value: effectiveSetting(view.config.settings, 'pool_size', db),
    })),
  );
  registerScrapeMetric(registry, 'pgbouncer_config_max_client_connections', 'max_client_conn', 'gauge', () => [{ labels: {}, value: view.config.settings.max_client_conn }]);
  registerScrapeMetric(registry, 'pgbouncer_config_max_user_connections', 'max_user_connections', 'gauge', () => [{ labels: {}, value: view.config.settings.max_user_connections }]);
  registerScrapeMetric(registry, 'pooler_client_wait_seconds', 'How long clients waited for a server, per assignment', 'histogram', () =>
    stats().flatMap((s) => histogramSamples('pooler_client_wait_seconds', s.database, s.waitHistogram)),
  );
  registerScrapeMetric(registry, 'pooler_transaction_duration_seconds', 'Transaction time on the server, first request to ReadyForQuery idle', 'histogram', () =>
    stats().flatMap((s) => histogramSamples('pooler_transaction_duration_seconds', s.database, s.transactionHistogram)),
  );
  registerScrapeMetric(registry, 'pooler_pins_total', 'Clients pinned to their server (session_state = track_and_pin), by what pinned them first', 'counter', () =>
    stats().flatMap((s) => [...s.pinsByReason].map(([reason, count]) => ({ labels: { database: s.database, reason }, value: count }))),
  );
  registerScrapeMetric(registry, 'pooler_pinned_seconds_total', 'Seconds clients spent pinned to their server, counted when they unpin or leave', 'counter', () =>
    stats().map((s) => ({ labels: { database: s.database }, value: s.pinnedMs / 1000 })),
  );
  registerFailoverMetrics(registry, view);
  registerHostMetrics(registry, view);
  collectDefaultMetrics({ register: registry });
  return registry;
}
