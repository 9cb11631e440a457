// Metrics per host of a database with several hosts or Patroni: whether it takes new transactions,
// its replica lag, how often it was taken out and why, and the transactions routed to it.
import type { Registry } from 'prom-client';
import type { ConsoleView } from '../admin/console-context.js';
import { registerScrapeMetric } from './scrape-metric.js';

export function registerHostMetrics(registry: Registry, view: Pick<ConsoleView, 'hosts'>): void {
  const hosts = () => view.hosts().filter((h) => h.monitored);
  const labels = (h: { database: string; host: string; port: number }) => ({ database: h.database, host: `${h.host}:${h.port}` });
  registerScrapeMetric(registry, 'pooler_host_up', 'The host takes new transactions (1): up, not banned, probing or lagging', 'gauge', () =>
    hosts().map((h) => ({ labels: labels(h), value: h.state === 'up' && !h.lagging ? 1 : 0 })),
  );
  registerScrapeMetric(registry, 'pooler_host_lag_bytes', 'WAL bytes a replica has still to replay, as last measured', 'gauge', () =>
    hosts().flatMap((h) => (h.lagBytes === null ? [] : [{ labels: labels(h), value: h.lagBytes }])),
  );
  registerScrapeMetric(registry, 'pooler_host_lag_seconds', "Seconds a replica's replay is behind what it received, as last measured", 'gauge', () =>
    hosts().flatMap((h) => (h.lagMs === null ? [] : [{ labels: labels(h), value: h.lagMs / 1000 }])),
  );
  registerScrapeMetric(
    registry,
    'pooler_host_bans_total',
    'Times the host was taken out, by reason: failures (in a row, reported by pools), health_check, probe, replica_lag',
    'counter',
    () => hosts().flatMap((h) => Object.entries(h.bans).map(([reason, value]) => ({ labels: { ...labels(h), reason }, value }))),
  );
  registerScrapeMetric(registry, 'pooler_host_transactions_total', 'Transactions routed to the host', 'counter', () =>
    hosts().map((h) => ({ labels: labels(h), value: h.transactions })),
  );
}
