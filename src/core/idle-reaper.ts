// The janitor's freeing of what clients leave behind: auto-databases idle for autodb_idle_timeout
// (with their pools), pools with no clients and no servers for pool_idle_timeout, and the stats of
// databases that no longer exist — so names and users clients invent do not pile up.
import type { AutoDatabases } from './auto-databases.js';
import type { Settings } from '../config/types.js';
import type { Logger } from '../log.js';

/** how often idle pools and auto-databases are looked for: each look visits every pool */
const REAP_INTERVAL_MS = 1000;

/** what the reaper needs of a pool */
export interface ReapablePool {
  readonly database: { readonly name: string };
  readonly clientCount: number;
  readonly serverCount: number;
  /** when the pool was last seen with a client or a server */
  lastActivity: number;
}

export interface ReapContext<P extends ReapablePool> {
  readonly settings: Settings;
  readonly pools: ReadonlyMap<string, P>;
  readonly stats: Map<string, unknown>;
  readonly autoDatabases: AutoDatabases;
  /** listed in [databases], or an auto-database still known */
  databaseExists(name: string): boolean;
  removePool(pool: P): void;
  /** auto-databases were freed: what else is kept per database name goes too */
  forgetDatabases(names: ReadonlySet<string>): void;
}

export function reapIdle<P extends ReapablePool>(context: ReapContext<P>, now: number): void {
  const settings = context.settings;
  const withPools = new Set<string>();
  for (const pool of context.pools.values()) {
    withPools.add(pool.database.name);
    if (pool.clientCount > 0 || pool.serverCount > 0) {
      pool.lastActivity = now;
      context.autoDatabases.used(pool.database.name, now);
    }
  }
  const gone = context.autoDatabases.takeIdle(now, settings.autodb_idle_timeout, settings.client_login_timeout, (name) =>
    withPools.has(name),
  );
  const poolIdleTimeout = settings.pool_idle_timeout;
  if (gone.size > 0 || poolIdleTimeout > 0) {
    for (const pool of [...context.pools.values()]) {
      if (pool.clientCount > 0 || pool.serverCount > 0) continue;
      if (gone.has(pool.database.name) || (poolIdleTimeout > 0 && now - pool.lastActivity >= poolIdleTimeout)) context.removePool(pool);
    }
  }
  if (gone.size > 0) context.forgetDatabases(gone);
  if (context.stats.size === 0) return;
  const inUse = new Set<string>();
  for (const pool of context.pools.values()) inUse.add(pool.database.name);
  for (const name of context.stats.keys()) {
    if (!inUse.has(name) && !context.databaseExists(name)) context.stats.delete(name);
  }
}

/** the janitor's task: reapIdle once a REAP_INTERVAL_MS, saying what it freed */
export class IdleReaper<P extends ReapablePool> {
  private lastReap = 0;

  constructor(private readonly context: ReapContext<P> & { readonly log: Logger }) {}

  tick(now: number): void {
    if (now - this.lastReap < REAP_INTERVAL_MS) return;
    this.lastReap = now;
    const pools = this.context.pools.size;
    const databases = this.context.autoDatabases.size;
    reapIdle(this.context, now);
    const freedPools = pools - this.context.pools.size;
    const freedDatabases = databases - this.context.autoDatabases.size;
    if (freedPools > 0 || freedDatabases > 0) {
      this.context.log.info({ pools: freedPools, databases: freedDatabases }, 'freed idle pools and auto-databases (pool_idle_timeout, autodb_idle_timeout)');
    }
  }
}
