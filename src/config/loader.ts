// loadConfig: defaults, then the ini file (with its includes), then POOLER_* variables, then
// DATABASE_URL, into one Config that records where every value came from and what was ignored.
import path from 'node:path';
import { parseDatabaseEntry, FALLBACK_DATABASE, RESERVED_DATABASE_NAMES, emptyDatabase } from './databases.js';
import { applySettingsFromEnv, parseDatabaseUrl, type DatabaseUrl } from './env.js';
import { configError, describeSource, type Source } from './errors.js';
import { readIniFile } from './ini-reader.js';
import { checkAnyHasForcedUsers, defaultAuthWithoutFile } from './login-safety.js';
import {
  SETTING_DEFINITIONS,
  applySettingValue,
  defaultSettings,
  findSetting,
  findUnsupportedSetting,
  invalidValueText,
  unsupportedWarning,
} from './settings.js';
import { closestName } from './suggest.js';
import { tcpTuningWarnings } from './tcp-warnings.js';
import type { Config, DatabaseConfig } from './types.js';
import { parseUserEntry } from './users.js';
import { InvalidValue } from './values.js';

export interface LoadConfigOptions {
  /** the ini file; null or absent runs from defaults and the environment only */
  file?: string | null;
  /** defaults to process.env */
  env?: Record<string, string | undefined>;
  /** where relative paths (the file, %include) are resolved; defaults to process.cwd() */
  cwd?: string;
}

/** origin of values the pooler chose because no config file was given */
const NO_FILE_DEFAULT = 'default (no config file)';

/** where nothing else says where PostgreSQL is: the usual local server */
const LOCAL_POSTGRES = { host: '127.0.0.1', port: 5432 };

const SECTION_KINDS: Record<string, 'settings' | 'databases' | 'users' | 'peers'> = {
  pooler: 'settings',
  pgbouncer: 'settings',
  databases: 'databases',
  users: 'users',
  peers: 'peers',
};

/** origins keys for [databases] and [users] entries, next to the setting names */
export const databaseOriginKey = (name: string): string => `databases.${name}`;
export const userOriginKey = (name: string): string => `users.${name}`;

/** load and validate the configuration; throws ConfigError naming file:line and key */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? null;

  const config: Config = {
    settings: defaultSettings(),
    databases: new Map(),
    fallback: null,
    users: new Map(),
    urlCredentials: new Map(),
    origins: new Map(SETTING_DEFINITIONS.map((def) => [def.name, 'default'])),
    warnings: [],
    file: file === null ? null : path.resolve(cwd, file),
  };
  /** where each [databases] entry (by name) came from, for errors about the entry as a whole */
  const databaseSources = new Map<string, Source>();

  if (file !== null) readFile(config, file, cwd, databaseSources);
  applySettingsFromEnv(config.settings, config.origins, env, config.warnings);

  const url = env.DATABASE_URL?.trim() ? parseDatabaseUrl(env.DATABASE_URL.trim()) : null;
  if (url) applyDatabaseUrl(config, url, databaseSources);

  if (file === null && url === null) {
    config.fallback = { ...emptyDatabase(FALLBACK_DATABASE), ...LOCAL_POSTGRES };
    config.origins.set(databaseOriginKey(FALLBACK_DATABASE), NO_FILE_DEFAULT);
    databaseSources.set(FALLBACK_DATABASE, { file: null, line: null, label: NO_FILE_DEFAULT });
  }
  if (file === null && config.origins.get('auth_type') === 'default' && config.settings.auth_file === null) {
    config.settings.auth_type = defaultAuthWithoutFile(config);
    config.origins.set('auth_type', NO_FILE_DEFAULT);
  }

  const socketDir = config.settings.unix_socket_dir || '/tmp';
  for (const db of [...config.databases.values(), ...(config.fallback ? [config.fallback] : [])]) {
    if (db.host === '') db.host = socketDir;
    // DATABASE_URL's host list arrives as "h1,h2"
    if (db.hosts.length === 0) db.hosts = db.host.split(',').map((host) => ({ host, port: db.port }));
    for (const entry of db.hosts) if (entry.host === '') entry.host = socketDir;
    db.host = db.hosts[0]!.host;
  }
  checkAnyHasForcedUsers(config, databaseSources);
  addSanityWarnings(config);
  return config;
}

function readFile(config: Config, file: string, cwd: string, databaseSources: Map<string, Source>): void {
  let section: 'settings' | 'databases' | 'users' | 'peers' | null = null;
  const warn = (message: string): void => {
    config.warnings.push(message);
  };

  for (const event of readIniFile(file, { cwd })) {
    const source: Source = { file: event.file, line: event.line };
    const where = describeSource(source);
    if (event.kind === 'section') {
      section = SECTION_KINDS[event.name] ?? null;
      if (section === null) {
        throw configError(source, `[${event.name}]`, `unknown section [${event.name}] (expected [pooler], [pgbouncer], [databases], [users] or [peers])`);
      }
      if (section === 'peers') warn(`${where}: [peers] is a PgBouncer section pooler does not support (no peering); its entries are ignored`);
      continue;
    }

    const { key, value } = event;
    switch (section) {
      case null:
        throw configError(source, key, `key "${key}" comes before any section header; put it under [pooler]`);
      case 'settings':
        applyFileSetting(config, key, value, source);
        break;
      case 'databases': {
        const db = parseDatabaseEntry(key, value, source, warn);
        if (key === FALLBACK_DATABASE) config.fallback = db;
        else config.databases.set(key, db);
        config.origins.set(databaseOriginKey(key), where);
        databaseSources.set(key, source);
        break;
      }
      case 'users':
        config.users.set(key, parseUserEntry(key, value, source, warn));
        config.origins.set(userOriginKey(key), where);
        break;
      case 'peers':
        break;
      default:
        assertNever(section);
    }
  }
}

function applyFileSetting(config: Config, key: string, value: string, source: Source): void {
  const where = describeSource(source);
  const def = findSetting(key);
  if (def) {
    try {
      applySettingValue(config.settings, def, value);
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      // PgBouncer has no trailing comments, so "30 ; seconds" is one (bad) value
      const hint = /\s[;#]/.test(value) ? '; a comment must be on a line of its own' : '';
      throw configError(source, key, `${invalidValueText(key, value, err)}${hint}`);
    }
    config.origins.set(key, where);
    return;
  }
  const unsupported = findUnsupportedSetting(key);
  if (unsupported) {
    config.warnings.push(unsupportedWarning(where, unsupported));
    return;
  }
  const suggestion = closestName(key, SETTING_DEFINITIONS.map((d) => d.name));
  throw configError(source, key, `unknown parameter "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
}

/**
 * DATABASE_URL names one database (clients use its dbname) and, unless the file has its own `*`,
 * a fallback to the same server for any other name. Its user is not a forced user: clients still
 * log in as themselves, and the URL's password is one more credential, as if from auth_file.
 */
function applyDatabaseUrl(config: Config, url: DatabaseUrl, databaseSources: Map<string, Source>): void {
  const fromUrl: Source = { file: null, line: null, label: 'DATABASE_URL' };
  config.warnings.push(...url.warnings);
  const target = (name: string, dbname: string): DatabaseConfig => ({
    ...emptyDatabase(name),
    host: url.host,
    port: url.port,
    dbname,
    startup_parameters: { ...url.startup_parameters },
  });

  // libpq's default database is the user name
  const dbname = url.dbname ?? url.user;
  if (dbname !== null) {
    const originKey = databaseOriginKey(dbname);
    if (RESERVED_DATABASE_NAMES.includes(dbname)) {
      config.warnings.push(`DATABASE_URL: "${dbname}" is the admin console's name, so only the * fallback is taken from the URL`);
    } else if (config.databases.has(dbname)) {
      config.origins.set(originKey, `${config.origins.get(originKey)} (wins over DATABASE_URL)`);
    } else {
      config.databases.set(dbname, target(dbname, dbname));
      config.origins.set(originKey, 'DATABASE_URL');
      databaseSources.set(dbname, fromUrl);
    }
  }
  if (config.fallback === null) {
    config.fallback = target(FALLBACK_DATABASE, '');
    config.origins.set(databaseOriginKey(FALLBACK_DATABASE), 'DATABASE_URL');
    databaseSources.set(FALLBACK_DATABASE, fromUrl);
  }
  if (url.user !== null && url.password !== null) config.urlCredentials.set(url.user, url.password);
}

/** things that load fine but would surprise someone at the first connection */
function addSanityWarnings(config: Config): void {
  const { settings } = config;
  if (config.databases.size === 0 && config.fallback === null) {
    config.warnings.push('no [databases] entries and no DATABASE_URL: every client will be refused (add "* = host=127.0.0.1" to [databases] to pass any name through)');
  }
  const needsPasswords = ['md5', 'scram-sha-256', 'plain'].includes(settings.auth_type);
  if (needsPasswords && settings.auth_file === null && settings.auth_user === null && config.urlCredentials.size === 0) {
    config.warnings.push(
      `auth_type = ${settings.auth_type} but there is no auth_file and no password in DATABASE_URL: no client can log in (set auth_file, or auth_type = trust for local testing)`,
    );
  }
  if (settings.auth_type === 'hba' && settings.auth_hba_file === '') {
    config.warnings.push('auth_type = hba needs auth_hba_file: pooler will not start without the rules');
  }
  if (settings.listen_addr === '' && settings.unix_socket_dir === '') {
    config.warnings.push('listen_addr and unix_socket_dir are both empty: the pooler has nowhere to listen');
  }
  config.warnings.push(...tcpTuningWarnings(settings));
  config.warnings.push(...replicaWarnings(config));
}

/**
 * Where a replica setting changes nothing, say so rather than let an operator believe reads are
 * split or balanced: read_write_split needs several hosts or patroni=, and a pool mode that gives
 * servers back between transactions; load_balance and weight= balance an entry that wants
 * standbys or splits reads.
 */
function replicaWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const { settings } = config;
  for (const db of config.databases.values()) {
    const split = db.read_write_split ?? settings.read_write_split;
    const several = db.patroni.length > 0 || db.hosts.length > 1;
    if (db.read_write_split === true && !several) {
      warnings.push(`database "${db.name}": read_write_split=on needs several hosts (host=a,b,...) or patroni=; with one host every transaction goes there`);
    } else if (split && several && (db.pool_mode ?? settings.pool_mode) === 'session') {
      warnings.push(`database "${db.name}": read_write_split is not applied in session mode (the server is the client's for its whole session); every session goes to the primary`);
    }
    const balanced = db.load_balance !== null && db.load_balance !== 'first';
    if ((balanced || db.weight.length > 0) && !balancesReplicas(db) && !(split && several)) {
      warnings.push(
        `database "${db.name}": load_balance and weight= only balance an entry with several hosts or patroni= and target_session_attrs = standby, read-only or prefer-standby, or one with read_write_split; this one still uses its first suitable host`,
      );
    }
  }
  return warnings;
}

function balancesReplicas(db: DatabaseConfig): boolean {
  const wants = db.target_session_attrs;
  return (db.patroni.length > 0 || db.hosts.length > 1) && (wants === 'standby' || wants === 'read-only' || wants === 'prefer-standby');
}

function assertNever(value: never): never {
  throw new Error(`unexpected section ${String(value)}`);
}
