// Checks a client's startup parameters the way PgBouncer does: the tracked session parameters are
// kept (and replayed on every server the client gets), `_pq_.` options are negotiated away, listed
// ones are ignored, and anything else is refused with an error that says how to allow it.
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
      if (!ignored.has('options')) readOptions(value, canonical, tracked);
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
    throw new PoolerError(
      'UNSUPPORTED_STARTUP_PARAMETER',
      SqlState.protocolViolation,
      `unsupported startup parameter: ${name}`,
      'FATAL',
      `add "${name}" to ignore_startup_parameters in pooler.ini to accept and drop it`,
    );
  }
  return { user, database: parameters.get('database') || user, tracked, protocolOptions };
}

/** `options` may carry `-c name=value` / `--name=value` settings; only tracked ones can be honoured */
function readOptions(options: string, canonical: Map<string, string>, tracked: Map<string, string>): void {
  const words = options.trim().split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let setting: string | undefined;
    const word = words[i]!;
    if (word === '-c') setting = words[++i];
    else if (word.startsWith('-c')) setting = word.slice(2);
    else if (word.startsWith('--')) setting = word.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    const name = setting !== undefined && eq > 0 ? canonical.get(setting.slice(0, eq).toLowerCase()) : undefined;
    if (setting === undefined || name === undefined) {
      throw new PoolerError(
        'UNSUPPORTED_STARTUP_PARAMETER',
        SqlState.protocolViolation,
        `unsupported options startup parameter: parameter "${word}${setting && word === '-c' ? ' ' + setting : ''}" is not tracked`,
        'FATAL',
        'add "options" to ignore_startup_parameters to drop unsupported -c settings',
      );
    }
    tracked.set(name, setting!.slice(eq + 1));
  }
}
