// The public API: build a pooler from a loaded configuration and start it.
//   const pooler = createPooler(loadConfig({ file: 'pooler.ini' }));
//   await pooler.listen();
import type { PoolSnapshot } from './admin/console-context.js';
import { loadConfig } from './config/index.js';
import type { Config } from './config/types.js';
import { silentLogger, type Logger } from './log.js';
import { Pooler, type ShutdownMode } from './pooler.js';
import { STATS_FIELDS, type StatsTotals } from './stats/database-stats.js';

export { Pooler, type ShutdownMode } from './pooler.js';
export { loadConfig, ConfigError } from './config/index.js';
export type { Config, Settings, DatabaseConfig, UserConfig, PoolMode, AuthType } from './config/types.js';
export type { PoolSnapshot } from './admin/console-context.js';
export type { StatsTotals } from './stats/database-stats.js';
export { createLogger, type Logger } from './log.js';

export interface PoolerStats {
  pools: PoolSnapshot[];
  /** totals since start, and averages over the last stats_period, per database */
  databases: { database: string; totals: StatsTotals; averages: StatsTotals }[];
}

export interface PoolerHandle {
  /** start accepting clients; resolves with the address actually bound (port 0 picks one) */
  listen(): Promise<{ host: string; port: number }>;
  /** stop; resolves once everything is closed. `immediate` (the default) closes clients now, the other modes are SHUTDOWN's and SIGTERM's */
  close(mode?: ShutdownMode): Promise<void>;
  /** apply `config`, or the configuration read again from its source; throws, changing nothing, when it is invalid */
  reload(config?: Config): void;
  /** a snapshot of the pools and the per-database counters */
  stats(): PoolerStats;
}

export interface PoolerOptions {
  logger?: Logger;
  /** where reload() without an argument reads the configuration; by default the same file (and process.env) again */
  source?: () => Config;
}

function copyTotals(totals: StatsTotals): StatsTotals {
  return Object.fromEntries(STATS_FIELDS.map((field) => [field, totals[field]])) as unknown as StatsTotals;
}

export function createPooler(config: Config, options: PoolerOptions = {}): PoolerHandle {
  const pooler = new Pooler(config, options.logger ?? silentLogger);
  pooler.configSource = options.source ?? (() => loadConfig({ file: config.file, env: process.env }));
  return {
    listen: () => pooler.listen(),
    close: (mode = 'immediate') => pooler.shutdown(mode),
    reload: (next) => (next === undefined ? pooler.reloadFromSource() : pooler.reload(next)),
    stats: () => ({
      pools: pooler.console.pools(),
      databases: pooler.console.stats().map((stats) => ({ database: stats.database, totals: copyTotals(stats), averages: copyTotals(stats.averages) })),
    }),
  };
}
