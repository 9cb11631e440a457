// describeConfig: the effective configuration as text for `pooler check-config`: every setting
// with its value and where it came from, then databases, users, and warnings.
import { quoteConnStringValue } from './connstring.js';
import { FALLBACK_DATABASE } from './databases.js';
import { databaseOriginKey, userOriginKey } from './loader.js';
import { computeAutoPoolSize } from './pool-size.js';
import { formatReplicaLag } from './replica-settings.js';
import { SETTING_DEFINITIONS, formatSetting } from './settings.js';
import type { Config, DatabaseConfig, UserConfig } from './types.js';
import { formatSeconds } from './values.js';

export function describeConfig(config: Config): string {
  const out: string[] = [];
  out.push(config.file === null ? 'config file: none (defaults and environment only)' : `config file: ${config.file}`);

  out.push('', 'settings');
  const settingRows = SETTING_DEFINITIONS.map((def) => {
    const formatted = formatSetting(def.name, config.settings);
    let value = formatted === null ? '(not set)' : formatted === '' ? '(empty)' : formatted;
    if (def.kind === 'time' && value !== '0') value += 's';
    if (def.name === 'default_pool_size' && config.settings.default_pool_size_auto) {
      const { server_cores: cores, effective_spindle_count: spindles } = config.settings;
      value = `${value} (auto: ${computeAutoPoolSize(cores, spindles).arithmetic})`;
    }
    return [def.name, value, config.origins.get(def.name) ?? 'default'];
  });
  out.push(...table(['key', 'value', 'origin'], settingRows));

  out.push('', 'databases');
  const dbs = [...config.databases.values()];
  if (config.fallback) dbs.push(config.fallback);
  if (dbs.length === 0) out.push('  (none)');
  else {
    const rows = dbs.map((db) => [db.name, serverOf(db), databaseOptions(db), config.origins.get(databaseOriginKey(db.name)) ?? '']);
    out.push(...table(['name', 'server', 'options', 'origin'], rows));
  }

  out.push('', 'users');
  if (config.users.size === 0) out.push('  (none)');
  else {
    const rows = [...config.users.values()].map((user) => [user.name, userOptions(user), config.origins.get(userOriginKey(user.name)) ?? '']);
    out.push(...table(['name', 'options', 'origin'], rows));
  }

  if (config.urlCredentials.size > 0) {
    out.push('', `passwords from DATABASE_URL for: ${[...config.urlCredentials.keys()].join(', ')}`);
  }

  out.push('', 'warnings');
  if (config.warnings.length === 0) out.push('  (none)');
  else for (const warning of config.warnings) out.push(`  - ${warning}`);
  return `${out.join('\n')}\n`;
}

function serverOf(db: DatabaseConfig): string {
  const dbname = db.dbname === '' ? '<requested name>' : db.dbname;
  return `${db.host}:${db.port}/${dbname}${db.name === FALLBACK_DATABASE ? ' (any other name)' : ''}`;
}

function databaseOptions(db: DatabaseConfig): string {
  const parts: string[] = [];
  const add = (key: string, value: string | number | null): void => {
    if (value !== null) parts.push(`${key}=${quoteConnStringValue(String(value))}`);
  };
  add('user', db.user);
  if (db.password !== null) parts.push('password=***');
  add('pool_size', db.pool_size);
  add('min_pool_size', db.min_pool_size);
  add('reserve_pool_size', db.reserve_pool_size);
  add('pool_mode', db.pool_mode);
  add('max_db_connections', db.max_db_connections);
  add('server_lifetime', db.server_lifetime === null ? null : formatSeconds(db.server_lifetime));
  add('connect_query', db.connect_query);
  add('auth_user', db.auth_user);
  add('auth_query', db.auth_query);
  add('auth_dbname', db.auth_dbname);
  add('load_balance', db.load_balance);
  add('weight', db.weight.length === 0 ? null : db.weight.join(','));
  add('read_write_split', db.read_write_split === null ? null : db.read_write_split ? 1 : 0);
  add('read_your_writes', db.read_your_writes);
  add('max_replica_lag', db.max_replica_lag === null ? null : formatReplicaLag(db.max_replica_lag));
  add('replica_fallback', db.replica_fallback);
  for (const [key, value] of Object.entries(db.startup_parameters)) add(key, value);
  return parts.join(' ');
}

function userOptions(user: UserConfig): string {
  const parts: string[] = [];
  const add = (key: string, value: string | number | null): void => {
    if (value !== null) parts.push(`${key}=${value}`);
  };
  add('pool_mode', user.pool_mode);
  add('pool_size', user.pool_size);
  add('reserve_pool_size', user.reserve_pool_size);
  add('max_user_connections', user.max_user_connections);
  add('query_timeout', user.query_timeout === null ? null : formatSeconds(user.query_timeout));
  add('idle_transaction_timeout', user.idle_transaction_timeout === null ? null : formatSeconds(user.idle_transaction_timeout));
  add('transaction_timeout', user.transaction_timeout === null ? null : formatSeconds(user.transaction_timeout));
  add('client_idle_timeout', user.client_idle_timeout === null ? null : formatSeconds(user.client_idle_timeout));
  return parts.join(' ');
}

/** left-aligned columns, two spaces apart, indented by two; the last column is not padded */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, col) => Math.max(...all.map((row) => row[col]!.length)));
  return all.map((row) => `  ${row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ')}`.trimEnd());
}
