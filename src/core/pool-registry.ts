// The pools, one per (database, user), and their stats per database: finding or making a pool,
// the limits pools share (max_db_connections, max_user_connections, eviction of idle servers), the
// per-pool part of the janitor tick, and the stats period.
import { clock } from '../clock.js';
import type { Config, DatabaseConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ServerTls } from '../net/server-tls.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress, Topology } from '../failover/topology.js';
import { maintainPool } from '../pool/maintenance.js';
import { Pool, type PoolContext } from '../pool/pool.js';
import type { Link } from '../pool/link.js';
import type { PoolServer } from '../pool/pool-server.js';
import { DatabaseStats } from '../stats/database-stats.js';
import { logStats } from '../stats/log-stats.js';

/** what pools need that other parts own */
export type PoolSurroundings = Omit<PoolContext, 'serverCountForDatabase' | 'serverCountForUser' | 'evictIdleServer' | 'onServerSlotFreed'>;

function poolKey(database: string, user: string): string {
  return `${database}\0${user}`;
}

export class PoolRegistry implements PoolContext {
  private readonly byKey = new Map<string, Pool>();
  private readonly statsByDatabase = new Map<string, DatabaseStats>();
  /** when the current stats_period began (SHOW STATS averages, the log_stats line) */
  private statsPeriodStart = clock.now;

  constructor(private readonly surroundings: PoolSurroundings) {}

  // --- PoolContext: what pools read live, passed through

  get config(): Config {
    return this.surroundings.config;
  }
  get log(): Logger {
    return this.surroundings.log;
  }
  get serverTls(): ServerTls | null {
    return this.surroundings.serverTls;
  }
  get draining(): boolean {
    return this.surroundings.draining;
  }
  isPaused(database: string): boolean {
    return this.surroundings.isPaused(database);
  }
  topologyFor(database: DatabaseConfig): Topology {
    return this.surroundings.topologyFor(database);
  }
  monitoredHost(database: string, address: ServerAddress): MonitoredHost | null {
    return this.surroundings.monitoredHost(database, address);
  }
  beingCanceled(server: PoolServer): boolean {
    return this.surroundings.beingCanceled(server);
  }
  cancel(link: Link): void {
    this.surroundings.cancel(link);
  }

  // --- the registry

  /** every pool by database\0user; the idle reaper reads and shrinks it */
  get pools(): ReadonlyMap<string, Pool> {
    return this.byKey;
  }

  /** stats per database, kept while the database or a pool of it exists */
  get stats(): Map<string, DatabaseStats> {
    return this.statsByDatabase;
  }

  find(database: string, user: string): Pool | undefined {
    return this.byKey.get(poolKey(database, user));
  }

  /** the pool of (database, user); a new one logs its servers in with `password` */
  poolFor(database: DatabaseConfig, user: string, password: string | null): Pool {
    const key = poolKey(database.name, user);
    let pool = this.byKey.get(key);
    if (pool === undefined) {
      let stats = this.statsByDatabase.get(database.name);
      if (stats === undefined) {
        stats = new DatabaseStats(database.name);
        this.statsByDatabase.set(database.name, stats);
      }
      pool = new Pool(database, user, password, this, stats);
      this.byKey.set(key, pool);
    }
    return pool;
  }

  /** false when `pool` is not (or no longer) the registered one */
  remove(pool: Pool): boolean {
    const key = poolKey(pool.database.name, pool.user);
    if (this.byKey.get(key) !== pool) return false;
    this.byKey.delete(key);
    return true;
  }

  values(): IterableIterator<Pool> {
    return this.byKey.values();
  }

  /** the pools of `database`, or every pool for null */
  of(database: string | null): Pool[] {
    const pools = [...this.byKey.values()];
    return database === null ? pools : pools.filter((pool) => pool.database.name === database);
  }

  /** give waiting clients servers, after something that held them was lifted */
  dispatch(database: string | null): void {
    for (const pool of this.of(database)) pool.dispatch();
  }

  serverCountForDatabase(database: string): number {
    let count = 0;
    for (const pool of this.byKey.values()) if (pool.database.name === database) count += pool.serverCount;
    return count;
  }

  serverCountForUser(user: string): number {
    let count = 0;
    for (const pool of this.byKey.values()) if (pool.user === user) count += pool.serverCount;
    return count;
  }

  evictIdleServer(pool: Pool, shares: (other: Pool) => boolean): boolean {
    let oldest: PoolServer | null = null;
    for (const other of this.byKey.values()) {
      if (other === pool || !shares(other)) continue;
      for (const server of other.idleServers.toArray()) if (oldest === null || server.lastUsed < oldest.lastUsed) oldest = server;
    }
    if (oldest === null) return false;
    oldest.close('evicted');
    return true;
  }

  onServerSlotFreed(freed: Pool): void {
    // Server closes are rare enough to look at every pool, which also covers caps set per user.
    for (const pool of this.byKey.values()) {
      if (pool !== freed && (pool.database.name === freed.database.name || pool.user === freed.user)) pool.launchIfNeeded();
    }
  }

  /** janitor: every pool's timeouts, min_pool_size and reserve pool */
  maintain(now: number): void {
    const config = this.config;
    for (const pool of this.byKey.values()) maintainPool(pool, now, config.settings, config.users.get(pool.user));
  }

  /** janitor: at the end of each stats_period, averages are computed (and logged with log_stats) */
  rollStatsPeriod(now: number): void {
    const settings = this.config.settings;
    if (now - this.statsPeriodStart < settings.stats_period) return;
    this.statsPeriodStart = now;
    for (const stats of this.statsByDatabase.values()) {
      stats.updateAverages();
      if (settings.log_stats) logStats(this.log, stats, settings.stats_period);
    }
  }
}
