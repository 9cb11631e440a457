// The log_stats line PgBouncer writes every stats_period for each database, with the same figures
// as SHOW STATS_AVERAGES, so log-based dashboards keep working.
import type { Logger } from '../log.js';
import type { DatabaseStats } from './database-stats.js';

export function logStats(log: Logger, stats: DatabaseStats, periodMs: number): void {
  const a = stats.averages;
  log.info(
    { db: stats.database, period_s: periodMs / 1000, ...a },
    `stats: ${a.transactions} xacts/s, ${a.queries} queries/s, ${a.serverAssignments} assignments/s, ` +
      `in ${a.received} B/s, out ${a.sent} B/s, xact ${a.transactionTime} us, query ${a.queryTime} us, wait ${a.waitTime} us`,
  );
}
