// The environment's part of the configuration: POOLER_<SETTING> overrides, and DATABASE_URL
// (postgres://user:password@host:port/dbname), the one variable applications already have.
import { ConfigError } from './errors.js';
import {
  SETTING_DEFINITIONS,
  applySettingValue,
  envNameFor,
  findSetting,
  findUnsupportedSetting,
  invalidValueText,
  unsupportedWarning,
} from './settings.js';
import { closestName } from './suggest.js';
import type { Settings } from './types.js';
import { InvalidValue, parseInteger } from './values.js';

/** POOLER_* variables that are not settings (read by the CLI), so they draw no "unknown" warning */
export const NON_SETTING_ENV_VARS: readonly string[] = ['POOLER_CONFIG', 'POOLER_LOG_LEVEL', 'POOLER_LOG_FORMAT'];

/**
 * Apply every POOLER_<NAME> variable that names a setting, recording its origin. Variables naming
 * a PgBouncer setting we ignore, or nothing at all, become warnings: the environment is shared
 * with other programs, so a stray variable must not stop the pooler.
 */
export function applySettingsFromEnv(
  settings: Settings,
  origins: Map<string, string>,
  env: Record<string, string | undefined>,
  warnings: string[],
): void {
  const names = Object.keys(env)
    .filter((key) => key.startsWith('POOLER_') && env[key] !== undefined && !NON_SETTING_ENV_VARS.includes(key))
    .sort();
  for (const variable of names) {
    const raw = env[variable]!;
    const name = variable.slice('POOLER_'.length).toLowerCase();
    const where = `environment variable ${variable}`;
    const def = findSetting(name);
    if (def) {
      try {
        applySettingValue(settings, def, raw);
      } catch (err) {
        if (err instanceof InvalidValue) throw new ConfigError(`${where}: ${invalidValueText(name, raw, err)}`, null, null, variable);
        throw err;
      }
      origins.set(name, `env ${variable}`);
      continue;
    }
    const unsupported = findUnsupportedSetting(name);
    if (unsupported) {
      warnings.push(unsupportedWarning(where, unsupported));
      continue;
    }
    const suggestion = closestName(name, SETTING_DEFINITIONS.map((d) => d.name));
    const hint = suggestion ? `; did you mean ${envNameFor(suggestion)}?` : '';
    warnings.push(`${where}: unknown parameter "${name}", ignored${hint}`);
  }
}

export interface DatabaseUrl {
  /** a host name or address, a comma-separated list of them, or a socket directory; '' = the default socket */
  host: string;
  port: number;
  dbname: string | null;
  user: string | null;
  password: string | null;
  /** client_encoding, DateStyle, TimeZone and application_name from the query string */
  startup_parameters: Record<string, string>;
  /** notes about query parameters we do not act on */
  warnings: string[];
}

const URL_STARTUP_PARAMETERS: Record<string, string> = {
  application_name: 'application_name',
  client_encoding: 'client_encoding',
  datestyle: 'DateStyle',
  timezone: 'TimeZone',
};

/**
 * Parse a libpq connection URI: postgres[ql]://[user[:password]@][host][:port][,host2[:port2]...]
 * [/dbname][?param=value&...]. Percent-encoding is decoded everywhere, so a socket directory can be
 * written either as ?host=/var/run/postgresql or as %2Fvar%2Frun%2Fpostgresql in the host part.
 * Written by hand because WHATWG URL rejects the multi-host form and mangles socket paths.
 */
export function parseDatabaseUrl(url: string): DatabaseUrl {
  const fail = (detail: string): never => {
    throw new ConfigError(`DATABASE_URL: ${detail}`, null, null, 'DATABASE_URL');
  };
  const decode = (text: string, what: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      return fail(`bad percent-encoding in the ${what}`);
    }
  };

  const scheme = /^postgres(?:ql)?:\/\//i.exec(url);
  if (!scheme) fail('expected a URL of the form postgres://user:password@host:port/dbname');
  let rest = url.slice(scheme![0].length).replace(/#.*$/, '');
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const pathPart = slash >= 0 ? rest.slice(slash + 1) : '';

  const result: DatabaseUrl = {
    host: '',
    port: 5432,
    dbname: pathPart === '' ? null : decode(pathPart, 'database name'),
    user: null,
    password: null,
    startup_parameters: {},
    warnings: [],
  };

  const at = authority.lastIndexOf('@');
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'user name');
    result.user = user === '' ? null : user;
    if (colon >= 0) result.password = decode(userinfo.slice(colon + 1), 'password');
  }

  const hosts: string[] = [];
  const ports = new Set<string>();
  for (const spec of hostList === '' ? [] : hostList.split(',')) {
    const match = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(spec)!;
    const host = decode(match[1]!.replace(/^\[(.*)\]$/, '$1'), 'host');
    if (host !== '') hosts.push(host);
    if (match[2] !== undefined && match[2] !== '') ports.add(match[2]);
  }
  result.host = hosts.join(',');
  const setPort = (text: string): void => {
    try {
      result.port = parseInteger(text, 1, 65535);
    } catch {
      fail(`invalid port "${text}" (expected an integer from 1 to 65535)`);
    }
  };
  if (ports.size > 1) fail(`hosts with different ports (${[...ports].join(', ')}) are not supported; use one port for all hosts`);
  for (const port of ports) setPort(port);

  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq >= 0 ? pair.slice(0, eq) : pair, 'query string');
    const value = decode(eq >= 0 ? pair.slice(eq + 1) : '', 'query string');
    if (key === 'host') result.host = value;
    else if (key === 'port') setPort(value);
    else if (key === 'dbname') result.dbname = value === '' ? null : value;
    else if (key === 'user') result.user = value === '' ? null : value;
    else if (key === 'password') result.password = value;
    else if (URL_STARTUP_PARAMETERS[key] !== undefined) result.startup_parameters[URL_STARTUP_PARAMETERS[key]] = value;
    else if (key === 'sslmode' && ['require', 'verify-ca', 'verify-full'].includes(value)) {
      result.warnings.push(`DATABASE_URL: sslmode=${value} is ignored: TLS to PostgreSQL follows server_tls_sslmode (POOLER_SERVER_TLS_SSLMODE=${value})`);
    } else if (key !== 'sslmode') {
      result.warnings.push(`DATABASE_URL: parameter "${key}" is ignored`);
    }
  }
  return result;
}
