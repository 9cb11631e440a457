// SHOW DATABASES, USERS, CONFIG and VERSION with PgBouncer 1.25.2's columns, and SHOW POOL_SIZE,
// ours: each pool's configured size, the `auto` formula's inputs, and the peak concurrency seen.
import { SETTING_DEFINITIONS, formatSetting } from '../config/settings.js';
import type { Pool } from '../pool/pool.js';
import type { Pooler } from '../pooler.js';
import { int4, text, type Cell, type ResultSet } from './result-set.js';

export const VERSION = 'pooler 0.1.0 (PgBouncer 1.25.2 compatible)';

export function showVersion(): ResultSet {
  return { columns: [text('version')], rows: [[VERSION]], tag: 'SHOW' };
}

/** server and client connections of the pools that `match` picks */
function connectionsOf(pooler: Pooler, match: (pool: Pool) => boolean): { servers: number; clients: number } {
  let servers = 0;
  let clients = 0;
  for (const pool of pooler.pools.values()) {
    if (!match(pool)) continue;
    servers += pool.serverCount;
    clients += pool.clientCount;
  }
  return { servers, clients };
}

export function showDatabases(pooler: Pooler): ResultSet {
  const settings = pooler.settings;
  const columns = [
    text('name'),
    text('host'),
    int4('port'),
    text('database'),
    text('force_user'),
    int4('pool_size'),
    int4('min_pool_size'),
    int4('reserve_pool_size'),
    int4('server_lifetime'),
    text('pool_mode'),
    text('load_balance_hosts'),
    int4('max_connections'),
    int4('current_connections'),
    int4('max_client_connections'),
    int4('current_client_connections'),
    int4('paused'),
    int4('disabled'),
  ];
  const rows: Cell[][] = [];
  // as in PgBouncer, the databases made from `*` are listed too, until autodb_idle_timeout frees them
  for (const db of [...pooler.config.databases.values(), ...pooler.autoDatabases.values()]) {
    const { servers, clients } = connectionsOf(pooler, (pool) => pool.database.name === db.name);
    rows.push([
      db.name,
      db.host === '' || db.host.startsWith('/') ? null : db.host,
      db.port,
      db.dbname,
      db.user,
      db.pool_size ?? settings.default_pool_size,
      db.min_pool_size ?? settings.min_pool_size,
      db.reserve_pool_size ?? settings.reserve_pool_size,
      Math.round((db.server_lifetime ?? settings.server_lifetime) / 1000),
      db.pool_mode,
      null,
      db.max_db_connections ?? settings.max_db_connections,
      servers,
      0,
      clients,
      pooler.isPaused(db.name) ? 1 : 0,
      pooler.disabledDatabases.has(db.name) ? 1 : 0,
    ]);
  }
  const name = pooler.consoleName;
  rows.push([name, null, settings.listen_port, name, 'pgbouncer', 2, 0, 0, 0, 'statement', null, 0, 0, 0, pooler.consoleSessions.size, 0, 0]);
  return { columns, rows, tag: 'SHOW' };
}

/** PgBouncer prints the user pool sizes with %9d, or empty when unset */
function padded(value: number | null): string {
  return value === null ? '' : String(value).padStart(9);
}

export function showUsers(pooler: Pooler): ResultSet {
  const columns = [
    text('name'),
    text('pool_size'),
    text('reserve_pool_size'),
    text('pool_mode'),
    int4('max_user_connections'),
    int4('current_connections'),
    int4('max_user_client_connections'),
    int4('current_client_connections'),
  ];
  const names = new Set([...pooler.config.users.keys(), ...[...pooler.pools.values()].map((pool) => pool.user)]);
  const rows = [...names].sort().map((name) => {
    const user = pooler.config.users.get(name);
    const { servers, clients } = connectionsOf(pooler, (pool) => pool.user === name);
    return [
      name,
      padded(user?.pool_size ?? null),
      padded(user?.reserve_pool_size ?? null),
      user?.pool_mode ?? null,
      user?.max_user_connections ?? pooler.settings.max_user_connections,
      servers,
      0,
      clients,
    ];
  });
  return { columns, rows, tag: 'SHOW' };
}

export function showConfig(pooler: Pooler): ResultSet {
  const defaults = new Map(SETTING_DEFINITIONS.map((def) => [def.name, def.default]));
  const rows = SETTING_DEFINITIONS.map((def) => [
    def.name,
    formatSetting(def.name, pooler.settings),
    defaults.get(def.name) ?? null,
    def.reloadable ? 'yes' : 'no',
  ]);
  return { columns: [text('key'), text('value'), text('default'), text('changeable')], rows, tag: 'SHOW' };
}

export function showPoolSize(pooler: Pooler): ResultSet {
  const settings = pooler.settings;
  const columns = [
    text('database'),
    text('user'),
    int4('pool_size'),
    text('sizing'),
    int4('server_cores'),
    int4('effective_spindle_count'),
    int4('reserve_pool_size'),
    int4('peak_active'),
    int4('cl_waiting'),
  ];
  const rows = [...pooler.pools.values()].map((pool) => [
    pool.database.name,
    pool.user,
    pool.poolSize,
    pool.database.pool_size === null && pooler.config.users.get(pool.user)?.pool_size == null && settings.default_pool_size_auto
      ? 'auto'
      : 'configured',
    settings.server_cores,
    settings.effective_spindle_count,
    pool.reservePoolSize,
    pool.peakActive,
    pool.waitingClients.size + pool.waitingLoginClients.size,
  ]);
  return { columns, rows, tag: 'SHOW' };
}
