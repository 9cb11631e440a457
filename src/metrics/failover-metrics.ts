// Failover metrics per database: where new server connections go (1 for the current target),
// how often that moved, how long there has been no writable primary, and how many clients are
// being held meanwhile.
import type { Registry } from 'prom-client';
import type { ConsoleView } from '../admin/console-context.js';
import { registerScrapeMetric } from './scrape-metric.js';

export function registerFailoverMetrics(registry: Registry, view: Pick<ConsoleView, 'pools' | 'topologies'>): void {
  const topologies = () => view.topologies();
  registerScrapeMetric(registry, 'pooler_failover_primary', 'The server new connections of a database go to (1); none while held', 'gauge', () =>
    topologies().flatMap((t) => (t.current === null ? [] : [{ labels: { database: t.database, host: t.current.host, port: t.current.port }, value: 1 }])),
  );
  registerScrapeMetric(registry, 'pooler_failover_role_changes_total', 'Times the server target of a database moved', 'counter', () =>
    topologies().map((t) => ({ labels: { database: t.database }, value: t.changes })),
  );
  registerScrapeMetric(registry, 'pooler_failover_seconds_without_primary', 'Seconds the database has had no server to send writes to; 0 when it has one', 'gauge', () =>
    topologies().map((t) => ({ labels: { database: t.database }, value: t.noTargetSince === 0 ? 0 : (Date.now() - t.noTargetSince) / 1000 })),
  );
  registerScrapeMetric(registry, 'pooler_failover_clients_held', 'Clients waiting because the database has no writable primary', 'gauge', () =>
    topologies().map((t) => ({
      labels: { database: t.database },
      value: !t.holding ? 0 : view.pools().filter((p) => p.database === t.database).reduce((n, p) => n + p.clientsWaiting, 0),
    })),
  );
}
