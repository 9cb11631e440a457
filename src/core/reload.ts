// RELOAD (SIGHUP or the console): read everything the new configuration names before changing
// anything, then apply what diffConfig says changed — settings that need a restart keep their
// running value, servers made from a changed entry are replaced, discovery restarts where it changed.
import { FALLBACK_DATABASE } from '../config/databases.js';
import { diffConfig, type ConfigDiff } from '../config/diff.js';
import { settingsChanged } from '../config/effective.js';
import { SETTING_DEFINITIONS, formatSetting, type SettingName } from '../config/settings.js';
import type { Config, DatabaseConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool/pool.js';
import { loadAuth, type AuthMaterial } from './auth-material.js';
import type { DatabaseDirectory } from './databases.js';
import type { Topologies } from './topologies.js';

export interface ReloadTarget {
  readonly log: Logger;
  readonly config: Config;
  /** make `config` the one in effect */
  replaceConfig(config: Config): void;
  readonly auth: AuthMaterial;
  readonly databases: DatabaseDirectory;
  readonly topologies: Topologies;
  pools(): Iterable<Pool>;
}

/** apply a newly loaded configuration without dropping clients; throws, changing nothing, when a file it names cannot be read */
export function reload(target: ReloadTarget, config: Config): void {
  const auth = loadAuth(config);
  const before = target.config;
  const diff = diffConfig(before, config);
  keepRestartOnlySettings(target.log, diff, before, config);
  target.replaceConfig(config);
  settingsChanged();
  target.auth.replace(auth);
  target.databases.auto.clear();
  target.topologies.reload(
    (name) => target.databases.lookup(name),
    (name) => entryChanged(diff, before, name, diff.databases.rediscover),
  );
  for (const pool of target.pools()) {
    const name = pool.database.name;
    const database: DatabaseConfig | null = target.databases.lookup(name);
    if (database === null) pool.markAllCloseNeeded('config_changed');
    else pool.updateDatabase(database, entryChanged(diff, before, name, diff.databases.reconnect));
    pool.setPassword(target.auth.serverPassword(pool.database, pool.user));
  }
  target.topologies.watch(config.databases.values());
  target.log.info({ file: config.file }, 'configuration reloaded');
}

/**
 * Settings PgBouncer reads only at startup (listen_port, pidfile, metrics_port, ...; CF_NO_RELOAD)
 * keep their running value, as PgBouncer ignores them on reload: the listener and endpoints were
 * set up from them, and SHOW CONFIG must report what is in effect, not what the file now says.
 */
function keepRestartOnlySettings(log: Logger, diff: ConfigDiff, before: Config, after: Config): void {
  for (const name of diff.restartRequired) {
    const running = formatSetting(name, before.settings);
    log.warn(`RELOAD: ${name} changed in the configuration, but it only takes effect on restart; keeping ${running ?? "''"}`);
  }
  for (const def of SETTING_DEFINITIONS) {
    if (def.reloadable) continue;
    (after.settings as unknown as Record<SettingName, unknown>)[def.name] = before.settings[def.name];
    const origin = before.origins.get(def.name);
    if (origin !== undefined) after.origins.set(def.name, origin);
  }
}

/**
 * Whether the entry a database's servers were made from is in `names` (a list from diffConfig), or
 * gone: its own entry, or `*` for one made from the fallback. A name listed now but made from `*`
 * before has another entry now, and so counts as changed.
 */
function entryChanged(diff: ConfigDiff, before: Config, name: string, names: readonly string[]): boolean {
  if (diff.databases.added.includes(name)) return true;
  const entry = before.databases.has(name) ? name : FALLBACK_DATABASE;
  return names.includes(entry) || diff.databases.removed.includes(entry);
}
