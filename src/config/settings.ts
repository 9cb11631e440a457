// The [pooler] settings table: one row per parameter (kind, default, reloadable), which backs the
// ini reader, POOLER_* overrides, SHOW CONFIG and SET; plus PgBouncer's parameters we accept but ignore.
import { settingsChanged } from './effective.js';
import { ConfigError } from './errors.js';
import { computeAutoPoolSize } from './pool-size.js';
import { REPLICA_SETTING_DEFINITIONS, formatReplicaLag, parseReplicaLag } from './replica-settings.js';
import type { AuthType, PoolMode, ReplicaLagLimit, SessionStateMode, Settings, TlsMode } from './types.js';
import {
  InvalidValue,
  formatSeconds,
  parseBoolean,
  parseEnum,
  parseInteger,
  parseList,
  parseTime,
} from './values.js';

/** lag: max_replica_lag's bytes-or-duration (config/replica-settings.ts) */
export type SettingKind = 'int' | 'time' | 'bool' | 'string' | 'list' | 'enum' | 'poolsize' | 'lag';

/** every field of Settings is a setting, except the flag derived from `default_pool_size = auto` */
export type SettingName = Exclude<keyof Settings, 'default_pool_size_auto'>;

export interface SettingDefinition {
  name: SettingName;
  kind: SettingKind;
  /** the default as it would be written in the ini file (SHOW CONFIG's `default` column) */
  default: string;
  /** false for PgBouncer's CF_NO_RELOAD parameters: read at startup only (SHOW CONFIG `changeable` = no) */
  reloadable: boolean;
  /** enum: the accepted words */
  values?: readonly string[];
  /** int: bounds (inclusive); 0 and MAX_SAFE_INTEGER unless given */
  min?: number;
  max?: number;
  /** string: an empty value means "not set", held as null (auth_file) */
  nullable?: boolean;
}

export const POOL_MODES: readonly PoolMode[] = ['session', 'transaction', 'statement'];
export const SESSION_STATE_MODES: readonly SessionStateMode[] = ['track_and_pin', 'error', 'ignore'];
export const TLS_MODES: readonly TlsMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
export const AUTH_TYPES: readonly AuthType[] = ['trust', 'any', 'plain', 'md5', 'scram-sha-256', 'cert', 'hba'];

/**
 * Alphabetical, as PgBouncer's bouncer_params[] is, because SHOW CONFIG lists rows in table order.
 * Defaults are PgBouncer 1.25's except listen_addr (PgBouncer: unset, i.e. Unix socket only; we
 * listen on loopback TCP so `pooler start` is reachable at once) and the two `auto` sizing inputs,
 * which PgBouncer does not have, the metrics endpoint (metrics_port, metrics_listen_addr) and shutdown_timeout, the bound on a
 * SIGTERM drain. pool_idle_timeout is PgBouncer master's (not in 1.25.2), where it defaults to 0
 * because freeing a pool there lowers SHOW STATS totals; ours are kept per database, so pools
 * clients invent (a user name each, with auth_type = trust) are freed after an hour by default.
 */
const CORE_DEFINITIONS: readonly SettingDefinition[] = [
  { name: 'admin_users', kind: 'list', default: '', reloadable: true },
  { name: 'application_name_add_host', kind: 'bool', default: '0', reloadable: true },
  { name: 'auth_dbname', kind: 'string', default: '', reloadable: true, nullable: true },
  { name: 'auth_file', kind: 'string', default: '', reloadable: true, nullable: true },
  { name: 'auth_hba_file', kind: 'string', default: '', reloadable: true },
  { name: 'auth_ident_file', kind: 'string', default: '', reloadable: true, nullable: true },
  { name: 'auth_query', kind: 'string', default: 'SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin', reloadable: true },
  { name: 'auth_type', kind: 'enum', default: 'md5', reloadable: true, values: AUTH_TYPES },
  { name: 'auth_user', kind: 'string', default: '', reloadable: true, nullable: true },
  { name: 'autodb_idle_timeout', kind: 'time', default: '3600', reloadable: true },
  { name: 'client_idle_timeout', kind: 'time', default: '0', reloadable: true },
  { name: 'client_login_timeout', kind: 'time', default: '60', reloadable: true },
  { name: 'client_tls13_ciphers', kind: 'string', default: '', reloadable: true },
  { name: 'client_tls_ca_file', kind: 'string', default: '', reloadable: true },
  { name: 'client_tls_cert_file', kind: 'string', default: '', reloadable: true },
  { name: 'client_tls_ciphers', kind: 'string', default: 'default', reloadable: true },
  { name: 'client_tls_key_file', kind: 'string', default: '', reloadable: true },
  { name: 'client_tls_protocols', kind: 'string', default: 'secure', reloadable: true },
  { name: 'client_tls_sslmode', kind: 'enum', default: 'disable', reloadable: true, values: TLS_MODES },
  { name: 'default_pool_size', kind: 'poolsize', default: '20', reloadable: true },
  { name: 'effective_spindle_count', kind: 'int', default: '1', reloadable: true },
  { name: 'failover_wait_timeout', kind: 'time', default: '60', reloadable: true },
  { name: 'idle_transaction_timeout', kind: 'time', default: '0', reloadable: true },
  { name: 'ignore_startup_parameters', kind: 'list', default: '', reloadable: true },
  { name: 'listen_addr', kind: 'string', default: '127.0.0.1', reloadable: false },
  { name: 'listen_port', kind: 'int', default: '6432', reloadable: false, min: 1, max: 65535 },
  { name: 'log_connections', kind: 'bool', default: '1', reloadable: true },
  { name: 'log_disconnections', kind: 'bool', default: '1', reloadable: true },
  { name: 'log_pooler_errors', kind: 'bool', default: '1', reloadable: true },
  { name: 'log_stats', kind: 'bool', default: '1', reloadable: true },
  { name: 'logfile', kind: 'string', default: '', reloadable: true },
  { name: 'max_client_conn', kind: 'int', default: '100', reloadable: true },
  { name: 'max_db_connections', kind: 'int', default: '0', reloadable: true },
  { name: 'max_packet_size', kind: 'int', default: '2147483647', reloadable: true, max: 4294967295 },
  { name: 'max_prepared_statements', kind: 'int', default: '200', reloadable: true },
  { name: 'max_user_connections', kind: 'int', default: '0', reloadable: true },
  { name: 'metrics_listen_addr', kind: 'string', default: '127.0.0.1', reloadable: false },
  { name: 'metrics_port', kind: 'int', default: '9127', reloadable: false, max: 65535 },
  { name: 'min_pool_size', kind: 'int', default: '0', reloadable: true },
  { name: 'patroni_poll_interval', kind: 'time', default: '1', reloadable: true },
  { name: 'pidfile', kind: 'string', default: '', reloadable: false },
  { name: 'pkt_buf', kind: 'int', default: '4096', reloadable: false },
  { name: 'pool_idle_timeout', kind: 'time', default: '3600', reloadable: true },
  { name: 'pool_mode', kind: 'enum', default: 'session', reloadable: true, values: POOL_MODES },
  { name: 'query_timeout', kind: 'time', default: '0', reloadable: true },
  { name: 'query_wait_timeout', kind: 'time', default: '120', reloadable: true },
  { name: 'reserve_pool_size', kind: 'int', default: '0', reloadable: true },
  { name: 'reserve_pool_timeout', kind: 'time', default: '5', reloadable: true },
  { name: 'server_check_delay', kind: 'time', default: '30', reloadable: true },
  { name: 'server_check_query', kind: 'string', default: '<empty>', reloadable: true },
  { name: 'server_connect_timeout', kind: 'time', default: '15', reloadable: true },
  { name: 'server_cores', kind: 'int', default: '4', reloadable: true, min: 1 },
  { name: 'server_idle_timeout', kind: 'time', default: '600', reloadable: true },
  { name: 'server_lifetime', kind: 'time', default: '3600', reloadable: true },
  { name: 'server_login_retry', kind: 'time', default: '15', reloadable: true },
  { name: 'server_reset_query', kind: 'string', default: 'DISCARD ALL', reloadable: true },
  { name: 'server_reset_query_always', kind: 'bool', default: '0', reloadable: true },
  { name: 'server_round_robin', kind: 'bool', default: '0', reloadable: true },
  { name: 'server_tls13_ciphers', kind: 'string', default: '', reloadable: true },
  { name: 'server_tls_ca_file', kind: 'string', default: '', reloadable: true },
  { name: 'server_tls_cert_file', kind: 'string', default: '', reloadable: true },
  { name: 'server_tls_ciphers', kind: 'string', default: 'default', reloadable: true },
  { name: 'server_tls_key_file', kind: 'string', default: '', reloadable: true },
  { name: 'server_tls_protocols', kind: 'string', default: 'secure', reloadable: true },
  { name: 'server_tls_sslmode', kind: 'enum', default: 'prefer', reloadable: true, values: TLS_MODES },
  { name: 'session_state', kind: 'enum', default: 'track_and_pin', reloadable: true, values: SESSION_STATE_MODES },
  { name: 'shutdown_timeout', kind: 'time', default: '30', reloadable: true },
  { name: 'stats_period', kind: 'time', default: '60', reloadable: true },
  { name: 'stats_users', kind: 'list', default: '', reloadable: true },
  { name: 'tcp_keepalive', kind: 'bool', default: '1', reloadable: true },
  // Linux's limits (MAX_TCP_KEEPCNT, MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL): beyond them the option would silently not apply
  { name: 'tcp_keepcnt', kind: 'int', default: '0', reloadable: true, max: 127 },
  { name: 'tcp_keepidle', kind: 'int', default: '0', reloadable: true, max: 32767 },
  { name: 'tcp_keepintvl', kind: 'int', default: '0', reloadable: true, max: 32767 },
  { name: 'tcp_user_timeout', kind: 'int', default: '0', reloadable: true },
  { name: 'track_extra_parameters', kind: 'list', default: 'IntervalStyle', reloadable: false },
  { name: 'transaction_timeout', kind: 'time', default: '0', reloadable: true },
  { name: 'unix_socket_dir', kind: 'string', default: '/tmp', reloadable: false },
  { name: 'verbose', kind: 'int', default: '0', reloadable: true },
];

export const SETTING_DEFINITIONS: readonly SettingDefinition[] = [...CORE_DEFINITIONS, ...REPLICA_SETTING_DEFINITIONS].sort((a, b) =>
  a.name < b.name ? -1 : 1,
);

const DEFINITIONS_BY_NAME = new Map<string, SettingDefinition>(SETTING_DEFINITIONS.map((def) => [def.name, def]));

export function findSetting(name: string): SettingDefinition | undefined {
  return DEFINITIONS_BY_NAME.get(name);
}

export interface UnsupportedSetting {
  name: string;
  /** PgBouncer's default, as SHOW CONFIG prints it (null: not set) */
  default: string | null;
  /** what ignoring it means in practice, when that is not obvious from the name */
  consequence?: string;
}

/**
 * PgBouncer parameters pooler reads but does not act on yet, so an existing pgbouncer.ini loads
 * unchanged. With the rows above (less server_cores and effective_spindle_count) they are all 101
 * of PgBouncer master's bouncer_params[]: 1.25.2's 99 plus pool_idle_timeout and
 * login_notify_message. service_name is PgBouncer's Windows-only alias of job_name.
 */
export const UNSUPPORTED_SETTINGS: readonly UnsupportedSetting[] = [
  { name: 'auth_ldap_options', default: null },
  { name: 'cancel_wait_timeout', default: '10' },
  { name: 'client_tls_dheparams', default: 'auto' },
  { name: 'client_tls_ecdhcurve', default: 'auto' },
  { name: 'conffile', default: null },
  { name: 'disable_pqexec', default: '0' },
  { name: 'dns_max_ttl', default: '15' },
  { name: 'dns_nxdomain_ttl', default: '15' },
  { name: 'dns_zone_check_period', default: '0' },
  { name: 'job_name', default: 'pgbouncer' },
  { name: 'listen_backlog', default: '128' },
  { name: 'login_notify_message', default: '' },
  { name: 'max_db_client_connections', default: '0' },
  { name: 'max_user_client_connections', default: '0' },
  { name: 'peer_id', default: '0' },
  { name: 'query_wait_notify', default: '5' },
  { name: 'resolv_conf', default: '' },
  { name: 'sbuf_loopcnt', default: '5' },
  { name: 'scram_iterations', default: '4096' },
  { name: 'server_fast_close', default: '0' },
  { name: 'service_name', default: null },
  { name: 'so_reuseport', default: '0' },
  { name: 'suspend_timeout', default: '10' },
  { name: 'syslog', default: '0' },
  { name: 'syslog_facility', default: 'daemon' },
  { name: 'syslog_ident', default: 'pgbouncer' },
  { name: 'tcp_defer_accept', default: '1' },
  { name: 'tcp_socket_buffer', default: '0' },
  { name: 'unix_socket_group', default: '' },
  { name: 'unix_socket_mode', default: '0777' },
  { name: 'user', default: null },
];

const UNSUPPORTED_BY_NAME = new Map<string, UnsupportedSetting>(UNSUPPORTED_SETTINGS.map((row) => [row.name, row]));

export function findUnsupportedSetting(name: string): UnsupportedSetting | undefined {
  return UNSUPPORTED_BY_NAME.get(name);
}

/** the warning for a PgBouncer parameter we ignore; `where` is 'pooler.ini:7' or 'environment variable POOLER_X' */
export function unsupportedWarning(where: string, row: UnsupportedSetting): string {
  const consequence = row.consequence ? ` (${row.consequence})` : '';
  return `${where}: "${row.name}" is a PgBouncer setting pooler does not support yet; it is ignored${consequence}`;
}

export type SettingValue = number | boolean | string | string[] | ReplicaLagLimit | null;

/** parse `raw` for one setting; throws InvalidValue. `default_pool_size` yields 'auto' or a number */
export function parseSettingValue(def: SettingDefinition, raw: string): SettingValue {
  switch (def.kind) {
    case 'int':
      return parseInteger(raw, def.min ?? 0, def.max ?? Number.MAX_SAFE_INTEGER);
    case 'time':
      return parseTime(raw);
    case 'bool':
      return parseBoolean(raw);
    case 'list':
      return parseList(raw);
    case 'enum':
      return parseEnum(raw, def.values ?? []);
    case 'string':
      return def.nullable && raw.trim() === '' ? null : raw.trim();
    case 'poolsize':
      if (raw.trim().toLowerCase() === 'auto') return 'auto';
      try {
        return parseInteger(raw);
      } catch {
        throw new InvalidValue('a non-negative integer or auto (server_cores × 2 + effective_spindle_count)');
      }
    case 'lag':
      return parseReplicaLag(raw);
    default:
      return assertNever(def.kind);
  }
}

/**
 * Set one setting from its text form, as the ini reader, POOLER_* and the console's SET do.
 * Keeps `default_pool_size = auto` resolved: changing server_cores or effective_spindle_count
 * recomputes it. Throws InvalidValue; the caller knows the location.
 */
export function applySettingValue(settings: Settings, def: SettingDefinition, raw: string): void {
  const value = parseSettingValue(def, raw);
  const record = settings as unknown as Record<string, SettingValue>;
  if (def.kind === 'poolsize') {
    settings.default_pool_size_auto = value === 'auto';
    if (value !== 'auto') settings.default_pool_size = value as number;
  } else {
    record[def.name] = value;
  }
  if (settings.default_pool_size_auto) {
    settings.default_pool_size = computeAutoPoolSize(settings.server_cores, settings.effective_spindle_count).size;
  }
}

/**
 * SET key = value for callers holding only a name (the admin console): validates and applies, or
 * throws a ConfigError with key set and a message like `key "pool_mode": invalid value ...`.
 */
export function setSetting(settings: Settings, name: string, raw: string): SettingDefinition {
  const def = findSetting(name);
  if (!def) {
    const detail = findUnsupportedSetting(name)
      ? `"${name}" is a PgBouncer setting pooler does not support yet`
      : `unknown parameter "${name}"`;
    throw new ConfigError(detail, null, null, name);
  }
  try {
    applySettingValue(settings, def, raw);
  } catch (err) {
    if (err instanceof InvalidValue) throw new ConfigError(invalidValueText(name, raw, err), null, null, name);
    throw err;
  }
  settingsChanged();
  return def;
}

export function invalidValueText(name: string, raw: string, err: InvalidValue): string {
  return `key "${name}": invalid value "${raw}" (expected ${err.expected})`;
}

/** the built-in defaults; a fresh object every call, since loaders and SET mutate it */
export function defaultSettings(): Settings {
  const settings = {} as Settings;
  settings.default_pool_size_auto = false;
  for (const def of SETTING_DEFINITIONS) applySettingValue(settings, def, def.default);
  return settings;
}

/**
 * A setting's value as PgBouncer's SHOW CONFIG prints it: times as seconds through %g, booleans
 * as 0/1 (they are ints in PgBouncer), lists comma-joined, a resolved `auto` pool size as its
 * number (exporters parse this column as an integer); null where PgBouncer sends SQL NULL.
 */
export function formatSetting(name: SettingName, settings: Settings): string | null {
  const def = findSetting(name);
  if (!def) throw new ConfigError(`unknown parameter "${name}"`, null, null, name);
  const value = (settings as unknown as Record<string, SettingValue>)[name];
  switch (def.kind) {
    case 'int':
    case 'poolsize':
      return String(value);
    case 'time':
      return formatSeconds(value as number);
    case 'bool':
      return value ? '1' : '0';
    case 'list':
      return (value as string[]).join(',');
    case 'enum':
    case 'string':
      return value === null ? null : String(value);
    case 'lag':
      return formatReplicaLag(value as ReplicaLagLimit);
    default:
      return assertNever(def.kind);
  }
}

/** the name POOLER_* uses for a setting: POOLER_DEFAULT_POOL_SIZE */
export function envNameFor(name: string): string {
  return `POOLER_${name.toUpperCase()}`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected setting kind ${String(value)}`);
}
