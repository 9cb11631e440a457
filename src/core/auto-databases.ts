// The databases made from the `*` fallback, one per name a client asked for, with when each was last
// in use; the janitor frees the ones idle for autodb_idle_timeout (PgBouncer's autodb), so names
// clients invent do not pile up.
import type { DatabaseConfig } from '../config/types.js';

interface AutoDatabase {
  database: DatabaseConfig;
  lastUsed: number;
}

export class AutoDatabases {
  private readonly entries = new Map<string, AutoDatabase>();

  /** the entry for `name`, made from the fallback on first use */
  get(name: string, fallback: DatabaseConfig, now: number): DatabaseConfig {
    let entry = this.entries.get(name);
    if (entry === undefined) {
      entry = { database: { ...fallback, name, dbname: fallback.dbname || name }, lastUsed: now };
      this.entries.set(name, entry);
    }
    return entry.database;
  }

  get size(): number {
    return this.entries.size;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  values(): IterableIterator<DatabaseConfig> {
    const entries = this.entries.values();
    return (function* () {
      for (const entry of entries) yield entry.database;
    })();
  }

  /**
   * A client logged in to `database`, which may be an entry freed while it was logging in: it is
   * known again, so its pool goes when the database does.
   */
  adopt(database: DatabaseConfig, now: number): void {
    const entry = this.entries.get(database.name);
    if (entry === undefined) this.entries.set(database.name, { database, lastUsed: now });
    else entry.lastUsed = now;
  }

  /** a pool of the database has clients or servers */
  used(name: string, now: number): void {
    const entry = this.entries.get(name);
    if (entry !== undefined) entry.lastUsed = now;
  }

  /**
   * Remove and name the databases idle for `idleTimeout` (0: never). One without a pool (nobody
   * logged in to it) is freed once no login can still be using it, after `loginTimeout`: it has
   * nothing to keep, and logins that fail would otherwise hold an entry per invented name that long.
   */
  takeIdle(now: number, idleTimeout: number, loginTimeout: number, hasPool: (name: string) => boolean): Set<string> {
    const gone = new Set<string>();
    if (idleTimeout <= 0) return gone;
    const poollessTimeout = loginTimeout > 0 ? Math.min(idleTimeout, loginTimeout) : idleTimeout;
    for (const [name, entry] of this.entries) {
      if (now - entry.lastUsed < (hasPool(name) ? idleTimeout : poollessTimeout)) continue;
      this.entries.delete(name);
      gone.add(name);
    }
    return gone;
  }

  /** RELOAD: entries are made again from the new fallback when next asked for */
  clear(): void {
    this.entries.clear();
  }
}
