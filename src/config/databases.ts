// One [databases] line, `name = connstring`, turned into a DatabaseConfig with PgBouncer's keys
// and defaults (loader.c parse_database). The `*` entry is the fallback for unlisted names.
import { applyEntryPairs } from './connstring.js';
import { configError, describeSource, type Source } from './errors.js';
import { LOAD_BALANCE_MODES, READ_YOUR_WRITES_MODES, REPLICA_FALLBACKS, parseReplicaLag } from './replica-settings.js';
import { POOL_MODES } from './settings.js';
import type { DatabaseConfig, TargetSessionAttrs } from './types.js';
import { InvalidValue, parseBoolean, parseEnum, parseInteger, parseTime } from './values.js';

/** names that belong to the admin console and cannot be [databases] keys */
export const RESERVED_DATABASE_NAMES: readonly string[] = ['pgbouncer', 'pooler'];

/** the `*` key */
export const FALLBACK_DATABASE = '*';

/** [databases] keys PgBouncer has that we accept and ignore */
const IGNORED_DATABASE_KEYS = new Set(['max_db_client_connections', 'load_balance_hosts', 'query_wait_timeout']);

/** startup packet parameters a database entry can set, and the names PostgreSQL knows them by */
const STARTUP_PARAMETER_KEYS: Record<string, string> = {
  client_encoding: 'client_encoding',
  datestyle: 'DateStyle',
  timezone: 'TimeZone',
  application_name: 'application_name',
};

/**
 * An empty DatabaseConfig for `name`. host '' stands for "the Unix socket in unix_socket_dir";
 * the loader fills it in once the settings are final. dbname '' (the `*` entry) means "the name
 * the client asked for".
 */
export function emptyDatabase(name: string): DatabaseConfig {
  return {
    name,
    host: '',
    port: 5432,
    dbname: name === FALLBACK_DATABASE ? '' : name,
    user: null,
    password: null,
    pool_size: null,
    min_pool_size: null,
    reserve_pool_size: null,
    pool_mode: null,
    max_db_connections: null,
    server_lifetime: null,
    connect_query: null,
    auth_user: null,
    auth_query: null,
    auth_dbname: null,
    startup_parameters: {},
    hosts: [],
    target_session_attrs: 'any',
    patroni: [],
    load_balance: null,
    weight: [],
    read_write_split: null,
    read_your_writes: null,
    max_replica_lag: null,
    replica_fallback: null,
  };
}

const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'primary', 'read-only', 'standby', 'prefer-standby'];

/** libpq's rule: one port for every host, or one port per host */
function hostList(hosts: string, ports: string): { host: string; port: number }[] {
  const names = hosts.split(',').map((h) => h.trim());
  const numbers = ports.split(',').map((p) => parseInteger(p.trim(), 1, 65535));
  if (numbers.length !== 1 && numbers.length !== names.length) {
    throw new InvalidValue(`one port, or one port per host (${names.length} hosts, ${numbers.length} ports)`);
  }
  return names.map((host, i) => ({ host, port: numbers.length === 1 ? numbers[0]! : numbers[i]! }));
}

/** weight= against the host list: like ports, one for every host or one per host */
function hostWeights(weights: number[], hosts: number, patroni: boolean): number[] {
  if (weights.length === 0) return weights;
  if (patroni) throw new InvalidValue('no weight= with patroni= (members come and go, so there is no host list to align with)');
  if (weights.length !== 1 && weights.length !== hosts) {
    throw new InvalidValue(`one weight, or one weight per host (${hosts} hosts, ${weights.length} weights)`);
  }
  return weights.length === hosts ? weights : new Array<number>(hosts).fill(weights[0]!);
}

/** parse one [databases] entry; `warn` receives notes about keys we accept but ignore */
export function parseDatabaseEntry(
  name: string,
  connstring: string,
  source: Source,
  warn: (message: string) => void,
): DatabaseConfig {
  const subject = `database "${name}"`;
  if (RESERVED_DATABASE_NAMES.includes(name)) {
    throw configError(source, name, `${subject}: the name is reserved for the admin console; pick another name`);
  }
  if (name === '') throw configError(source, name, 'a database name cannot be empty');

  const db = emptyDatabase(name);
  let ports = '5432';
  applyEntryPairs(connstring, 'connection string', source, name, subject, (key, value) => {
    switch (key) {
      case 'dbname':
        db.dbname = value;
        break;
      case 'host':
        db.host = value;
        break;
      case 'port':
        for (const port of value.split(',')) parseInteger(port.trim(), 1, 65535);
        ports = value;
        break;
      case 'target_session_attrs':
        db.target_session_attrs = parseEnum(value, TARGET_SESSION_ATTRS);
        break;
      case 'patroni':
        db.patroni = value.split(',').map((url) => url.trim()).filter(Boolean);
        for (const url of db.patroni) if (!/^https?:\/\/[^/]+/.test(url)) throw new InvalidValue('http://host:port URLs of the Patroni REST API, comma-separated');
        break;
      case 'user':
        db.user = value;
        break;
      case 'password':
        db.password = value;
        break;
      case 'pool_size':
        db.pool_size = parseInteger(value);
        break;
      case 'min_pool_size':
        db.min_pool_size = parseInteger(value);
        break;
      case 'reserve_pool':
      case 'reserve_pool_size':
        db.reserve_pool_size = parseInteger(value);
        break;
      case 'max_db_connections':
        db.max_db_connections = parseInteger(value);
        break;
      case 'pool_mode':
        db.pool_mode = parseEnum(value, POOL_MODES);
        break;
      case 'server_lifetime':
        db.server_lifetime = parseTime(value);
        break;
      case 'connect_query':
        db.connect_query = value;
        break;
      case 'auth_user':
        db.auth_user = value;
        break;
      case 'auth_query':
        db.auth_query = value;
        break;
      case 'auth_dbname':
        db.auth_dbname = value;
        break;
      case 'load_balance':
        db.load_balance = parseEnum(value, LOAD_BALANCE_MODES);
        break;
      case 'weight':
        db.weight = value.split(',').map((w) => parseInteger(w.trim(), 0, 1_000_000));
        break;
      case 'read_write_split':
        db.read_write_split = parseBoolean(value);
        break;
      case 'read_your_writes':
        db.read_your_writes = parseEnum(value, READ_YOUR_WRITES_MODES);
        break;
      case 'max_replica_lag':
        db.max_replica_lag = parseReplicaLag(value);
        break;
      case 'replica_fallback':
        db.replica_fallback = parseEnum(value, REPLICA_FALLBACKS);
        break;
      default: {
        const startupName = STARTUP_PARAMETER_KEYS[key];
        if (startupName !== undefined) {
          db.startup_parameters[startupName] = value;
        } else if (IGNORED_DATABASE_KEYS.has(key)) {
          warn(`${describeSource(source)}: ${subject}: "${key}" is a PgBouncer parameter pooler does not support yet; it is ignored`);
        } else {
          throw configError(
            source,
            name,
            `${subject}: unrecognized connection parameter "${key}" (known: dbname, host, port, user, password, pool_size, min_pool_size, reserve_pool_size, max_db_connections, pool_mode, server_lifetime, connect_query, auth_user, auth_query, auth_dbname, target_session_attrs, patroni, load_balance, weight, read_write_split, read_your_writes, max_replica_lag, replica_fallback, client_encoding, datestyle, timezone, application_name)`,
          );
        }
      }
    }
  });
  try {
    db.hosts = hostList(db.host, ports);
  } catch (err) {
    if (err instanceof InvalidValue) throw configError(source, name, `${subject}: parameters "host" and "port": expected ${err.expected}`);
    throw err;
  }
  db.host = db.hosts[0]!.host;
  db.port = db.hosts[0]!.port;
  try {
    db.weight = hostWeights(db.weight, db.hosts.length, db.patroni.length > 0);
  } catch (err) {
    if (err instanceof InvalidValue) throw configError(source, name, `${subject}: parameter "weight": expected ${err.expected}`);
    throw err;
  }
  return db;
}
