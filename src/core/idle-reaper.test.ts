// Freeing what clients leave behind, with fake pools on a fake clock: auto-databases after
// autodb_idle_timeout (sooner when nobody logged in to them), pools after pool_idle_timeout, and
// the stats of databases that are gone.
import { describe, expect, it } from 'vitest';
import { AutoDatabases } from './auto-databases.js';
import { defaultSettings } from '../config/settings.js';
import type { DatabaseConfig } from '../config/types.js';
import { reapIdle, type ReapContext, type ReapablePool } from './idle-reaper.js';

const fallback = { name: '*', dbname: '', host: 'db', port: 5432 } as DatabaseConfig;

interface FakePool extends ReapablePool {
  clientCount: number;
  serverCount: number;
  user: string;
}

function setup(timeouts: { autodb: number; pool: number; login: number }) {
  const settings = defaultSettings();
  settings.autodb_idle_timeout = timeouts.autodb;
  settings.pool_idle_timeout = timeouts.pool;
  settings.client_login_timeout = timeouts.login;
  const pools = new Map<string, FakePool>();
  const forgotten: string[] = [];
  const context: ReapContext<FakePool> = {
    settings,
    pools,
    stats: new Map<string, unknown>(),
    autoDatabases: new AutoDatabases(),
    databaseExists: (name) => name === 'listed' || context.autoDatabases.has(name),
    removePool: (pool) => pools.delete(`${pool.database.name}/${pool.user}`),
    forgetDatabases: (names) => forgotten.push(...names),
  };
  const addPool = (database: string, user: string, now: number): FakePool => {
    const pool = { database: { name: database }, user, clientCount: 0, serverCount: 0, lastActivity: now };
    pools.set(`${database}/${user}`, pool);
    context.stats.set(database, {});
    return pool;
  };
  return { context, pools, forgotten, addPool };
}

describe('reapIdle', () => {
  it('frees an auto-database idle for autodb_idle_timeout, with its pools and stats, and keeps one in use', () => {
    const { context, pools, forgotten, addPool } = setup({ autodb: 10_000, pool: 0, login: 60_000 });
    context.autoDatabases.get('idle', fallback, 0);
    context.autoDatabases.get('busy', fallback, 0);
    addPool('idle', 'u', 0);
    addPool('busy', 'u', 0).clientCount = 1;
    reapIdle(context, 9_999);
    expect(context.autoDatabases.size).toBe(2);
    reapIdle(context, 20_000);
    expect([...context.autoDatabases.values()].map((db) => db.name)).toEqual(['busy']);
    expect([...pools.keys()]).toEqual(['busy/u']);
    expect(forgotten).toEqual(['idle']);
    expect([...context.stats.keys()]).toEqual(['busy']);
  });

  it('frees an auto-database nobody logged in to once client_login_timeout has passed', () => {
    const { context } = setup({ autodb: 3_600_000, pool: 0, login: 60_000 });
    context.autoDatabases.get('invented', fallback, 0);
    reapIdle(context, 59_999);
    expect(context.autoDatabases.has('invented')).toBe(true);
    reapIdle(context, 60_000);
    expect(context.autoDatabases.has('invented')).toBe(false);
  });

  it('frees a pool with no clients and no servers for pool_idle_timeout, keeping its listed database\'s stats', () => {
    const { context, pools, addPool } = setup({ autodb: 0, pool: 5_000, login: 60_000 });
    const active = addPool('listed', 'active', 0);
    active.serverCount = 1;
    addPool('listed', 'invented', 0);
    reapIdle(context, 4_000);
    active.serverCount = 0;
    reapIdle(context, 6_000);
    // the active pool counts as used until it was last seen busy, at 4 s
    expect([...pools.keys()]).toEqual(['listed/active']);
    reapIdle(context, 9_000);
    expect(pools.size).toBe(0);
    expect([...context.stats.keys()]).toEqual(['listed']);
  });

  it('frees nothing when both timeouts are 0, as PgBouncer', () => {
    const { context, pools, addPool } = setup({ autodb: 0, pool: 0, login: 60_000 });
    context.autoDatabases.get('invented', fallback, 0);
    addPool('invented', 'u', 0);
    reapIdle(context, 1e9);
    expect(context.autoDatabases.size).toBe(1);
    expect(pools.size).toBe(1);
  });

  it('knows again an auto-database freed while a client was logging in to it', () => {
    const autoDatabases = new AutoDatabases();
    const database = autoDatabases.get('late', fallback, 0);
    expect(database.dbname).toBe('late');
    autoDatabases.takeIdle(100_000, 1_000, 0, () => false);
    expect(autoDatabases.has('late')).toBe(false);
    autoDatabases.adopt(database, 100_001);
    expect([...autoDatabases.values()]).toEqual([database]);
  });
});
