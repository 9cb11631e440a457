// diffConfig: what a RELOAD would change, as names: settings (and which of them need a restart),
// databases and users added, removed or changed, and databases whose servers must be replaced.
import { FALLBACK_DATABASE } from './databases.js';
import { SETTING_DEFINITIONS, formatSetting, type SettingName } from './settings.js';
import type { Config, DatabaseConfig } from './types.js';

export interface EntryDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ConfigDiff {
  /** settings whose value differs */
  settings: SettingName[];
  /** those of them PgBouncer only reads at startup (listen_addr, pkt_buf, ...): a reload keeps the old value */
  restartRequired: SettingName[];
  /** [databases] entries by name; the fallback is the entry '*' */
  databases: EntryDiff & {
    /**
     * changed entries whose existing server connections point at the wrong place or were made with
     * the wrong startup packet; PgBouncer closes them when next released (tag_database_dirty)
     */
    reconnect: string[];
    /** changed entries whose servers are found another way (hosts, target_session_attrs, patroni): discovery starts afresh */
    rediscover: string[];
  };
  users: EntryDiff;
  /** the DATABASE_URL credentials differ */
  credentialsChanged: boolean;
}

/** fields whose change makes existing server connections obsolete (PgBouncer's list, plus startup parameters) */
const RECONNECT_FIELDS: readonly (keyof DatabaseConfig)[] = [
  'dbname',
  'host',
  'port',
  'user',
  'connect_query',
  'auth_user',
  'auth_query',
  'auth_dbname',
  'startup_parameters',
];

/** fields that decide where a database's servers are found */
const DISCOVERY_FIELDS: readonly (keyof DatabaseConfig)[] = ['hosts', 'target_session_attrs', 'patroni'];

export function diffConfig(before: Config, after: Config): ConfigDiff {
  const settings = SETTING_DEFINITIONS.filter(
    (def) => formatSetting(def.name, before.settings) !== formatSetting(def.name, after.settings),
  );
  const beforeDbs = withFallback(before);
  const afterDbs = withFallback(after);
  const databases = diffEntries(beforeDbs, afterDbs);
  const changedIn = (fields: readonly (keyof DatabaseConfig)[]): string[] =>
    databases.changed.filter((name) => {
      const a = beforeDbs.get(name)!;
      const b = afterDbs.get(name)!;
      return fields.some((field) => !sameValue(a[field], b[field]));
    });
  return {
    settings: settings.map((def) => def.name),
    restartRequired: settings.filter((def) => !def.reloadable).map((def) => def.name),
    databases: { ...databases, reconnect: changedIn(RECONNECT_FIELDS), rediscover: changedIn(DISCOVERY_FIELDS) },
    users: diffEntries(before.users, after.users),
    credentialsChanged: !sameValue([...before.urlCredentials], [...after.urlCredentials]),
  };
}

/** true when nothing a reload would act on differs */
export function isEmptyDiff(diff: ConfigDiff): boolean {
  const entries = (d: EntryDiff): number => d.added.length + d.removed.length + d.changed.length;
  return diff.settings.length === 0 && entries(diff.databases) === 0 && entries(diff.users) === 0 && !diff.credentialsChanged;
}

function withFallback(config: Config): Map<string, DatabaseConfig> {
  const all = new Map(config.databases);
  if (config.fallback) all.set(FALLBACK_DATABASE, config.fallback);
  return all;
}

function diffEntries<T>(before: Map<string, T>, after: Map<string, T>): EntryDiff {
  const diff: EntryDiff = { added: [], removed: [], changed: [] };
  for (const [name, value] of after) {
    if (!before.has(name)) diff.added.push(name);
    else if (!sameValue(before.get(name), value)) diff.changed.push(name);
  }
  for (const name of before.keys()) if (!after.has(name)) diff.removed.push(name);
  return diff;
}

/** structural equality for the plain data a config holds (strings, numbers, null, arrays, records) */
function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with record keys sorted, so the order entries were written in does not count as a change */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
