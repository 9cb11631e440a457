// SHOW DATABASES, USERS, CONFIG and VERSION with PgBouncer 1.25.2's columns, and SHOW POOL_SIZE,
// ours: each pool's configured size, the `auto` formula's inputs, and the peak concurrency seen.
import { effectiveSetting } from '../config/effective.js';
import { SETTING_DEFINITIONS, formatSetting } from '../config/settings.js';
import type { ConsoleView, PoolSnapshot } from './console-context.js';
import { int4, text, type Cell, type ResultSet } from './result-set.js';

export const VERSION = 'pooler 0.1.0 (PgBouncer 1.25.2 compatible)';

export function showVersion(): ResultSet {
  return { columns: [text('version')], rows: [[VERSION]], tag: 'SHOW' };
}

/** server and client connections of the pools that `match` picks */
function connectionsOf(pools: PoolSnapshot[], match: (pool: PoolSnapshot) => boolean): { servers: number; clients: number } {
  let servers = 0;
  let clients = 0;
  for (const pool of pools) {
    if (!match(pool)) continue;
    servers += pool.serverCount;
    clients += pool.clientCount;
  }
  return { servers, clients };
}

export function showDatabases(view: ConsoleView): ResultSet {
  const settings = view.config.settings;
  const pools = view.pools();
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
  for (const db of view.databases()) {
    const { servers, clients } = connectionsOf(pools, (pool) => pool.database === db.name);
    rows.push([
      db.name,
      db.host === '' || db.host.startsWith('/') ? null : db.host,
      db.port,
      db.dbname,
      db.user,
      effectiveSetting(settings, 'pool_size', db),
      effectiveSetting(settings, 'min_pool_size', db),
      effectiveSetting(settings, 'reserve_pool_size', db),
      Math.round(effectiveSetting(settings, 'server_lifetime', db) / 1000),
      db.pool_mode,
      null,
      effectiveSetting(settings, 'max_db_connections', db),
      servers,
      0,
      clients,
      view.isPaused(db.name) ? 1 : 0,
      view.isDisabled(db.name) ? 1 : 0,
    ]);
  }
  const name = view.consoleName;
  rows.push([name, null, settings.listen_port, name, 'pgbouncer', 2, 0, 0, 0, 'statement', null, 0, 0, 0, view.consoleSessions(), 0, 0]);
  return { columns, rows, tag: 'SHOW' };
}

/** PgBouncer prints the user pool sizes with %9d, or empty when unset */
function padded(value: number | null): string {
  return value === null ? '' : String(value).padStart(9);
}

export function showUsers(view: ConsoleView): ResultSet {
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
  const pools = view.pools();
  const names = new Set([...view.config.users.keys(), ...pools.map((pool) => pool.user)]);
  const rows = [...names].sort().map((name) => {
    const user = view.config.users.get(name);
    const { servers, clients } = connectionsOf(pools, (pool) => pool.user === name);
    return [
      name,
      padded(user?.pool_size ?? null),
      padded(user?.reserve_pool_size ?? null),
      user?.pool_mode ?? null,
      effectiveSetting(view.config.settings, 'max_user_connections', null, user),
      servers,
      0,
      clients,
    ];
  });
  return { columns, rows, tag: 'SHOW' };
}

export function showConfig(view: ConsoleView): ResultSet {
  const defaults = new Map(SETTING_DEFINITIONS.map((def) => [def.name, def.default]));
  const rows = SETTING_DEFINITIONS.map((def) => [
    def.name,
    formatSetting(def.name, view.config.settings),
    defaults.get(def.name) ?? null,
    def.reloadable ? 'yes' : 'no',
  ]);
  return { columns: [text('key'), text('value'), text('default'), text('changeable')], rows, tag: 'SHOW' };
}

export function showPoolSize(view: ConsoleView): ResultSet {
  const settings = view.config.settings;
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
  const rows = view.pools().map((pool) => [
    pool.database,
    pool.user,
    pool.poolSize,
    pool.autoSized ? 'auto' : 'configured',
    settings.server_cores,
    settings.effective_spindle_count,
    pool.reservePoolSize,
    pool.peakActive,
    pool.clientsWaiting,
  ]);
  return { columns, rows, tag: 'SHOW' };
}
