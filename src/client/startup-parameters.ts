// Reads a client's startup parameters: the ones followed by ParameterStatus (client_encoding,
// TimeZone, ...) are tracked; every other setting, given directly or as options -c / --name=value,
// is kept to be replayed on each server the client gets; `_pq_.` options are negotiated away, and
// ignore_startup_parameters drops what it lists, as in PgBouncer.
import { PoolerError, SqlState } from '../errors.js';

/** parameters every client's value is tracked for, in PostgreSQL's spelling */
export const TRACKED_PARAMETERS = [
  'client_encoding',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'standard_conforming_strings',
  'application_name',
];

export interface ClientStartup {
  user: string;
  database: string;
  /** tracked parameters the client set, keyed by their canonical spelling */
  tracked: Map<string, string>;
  /** every other setting the client gave (startup parameters and options -c), by name as given */
  settings: Map<string, string>;
  /** `_pq_.` protocol options to report as unsupported in NegotiateProtocolVersion */
  protocolOptions: string[];
}

export interface StartupRules {
  trackExtra: string[];
  ignore: string[];
}

export function canonicalNames(extra: string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const name of [...TRACKED_PARAMETERS, ...extra]) names.set(name.toLowerCase(), name);
  return names;
}

export function checkStartupParameters(parameters: Map<string, string>, rules: StartupRules): ClientStartup {
  const canonical = canonicalNames(rules.trackExtra);
  const ignored = new Set(rules.ignore.map((name) => name.toLowerCase()));
  const tracked = new Map<string, string>();
  const settings = new Map<string, string>();
  const protocolOptions: string[] = [];
  const user = parameters.get('user');
  if (!user) {
    throw new PoolerError(
      'PROTOCOL_VIOLATION',
      SqlState.invalidAuthorization,
      'no PostgreSQL user name specified in startup packet',
    );
  }
  for (const [name, value] of parameters) {
    const lower = name.toLowerCase();
    if (lower === 'user' || lower === 'database') continue;
    if (name.startsWith('_pq_.')) {
      protocolOptions.push(name);
      continue;
    }
    const trackedName = canonical.get(lower);
    if (trackedName !== undefined) {
      tracked.set(trackedName, value);
      continue;
    }
    if (lower === 'options') {
      if (!ignored.has('options')) readOptions(value, canonical, tracked, settings);
      continue;
    }
    if (lower === 'replication') {
      throw new PoolerError(
        'UNSUPPORTED_STARTUP_PARAMETER',
        SqlState.featureNotSupported,
        'replication connections are not supported by pooler yet',
      );
    }
    if (ignored.has(lower)) continue;
    settings.set(name, value);
  }
  return { user, database: parameters.get('database') || user, tracked, settings, protocolOptions };
}

/** `options` may carry `-c name=value` / `--name=value` settings (a backslash escapes a space, as libpq's pg_split_opts reads it) */
function readOptions(options: string, canonical: Map<string, string>, tracked: Map<string, string>, settings: Map<string, string>): void {
  const words = splitOptions(options);
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    const word = words[i] ?? '';
    if (word === '-c') setting = words[++i];
    else if (word.startsWith('-c')) setting = word.slice(2);
    else if (word.startsWith('--')) setting = word.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting === undefined || eq <= 0) {
      throw new PoolerError(
        'UNSUPPORTED_STARTUP_PARAMETER',
        SqlState.protocolViolation,
        `invalid options startup parameter: "${word}" is not -c name=value or --name=value`,
        'FATAL',
        'add "options" to ignore_startup_parameters to drop the options parameter',
      );
    }
    // PostgreSQL reads --work-mem as work_mem
    const given = setting.slice(0, eq).replace(/-/g, '_');
    const value = setting.slice(eq + 1);
    const name = canonical.get(given.toLowerCase());
    if (name !== undefined) tracked.set(name, value);
    else settings.set(given, value);
  }
}

/** words separated by whitespace, a backslash taking the next character literally (PostgreSQL's pg_split_opts) */
function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < options.length; i++) {
    const c = options.charAt(i);
    if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '\\' && i + 1 < options.length) {
      word = (word ?? '') + options[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}
