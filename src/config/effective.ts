// The value a pool works with for a setting that a [databases] or [users] entry may override: the
// user's own, else the database's, else the global one, as in PgBouncer. One place, so every
// reader (pools, the janitor, auth_query, SHOW, metrics) falls back the same way.
import type { Settings } from './types.js';

/** each overridable key and the global setting it falls back to: the same name, but for pool_size */
const GLOBAL_KEY = {
  pool_mode: 'pool_mode',
  pool_size: 'default_pool_size',
  reserve_pool_size: 'reserve_pool_size',
  min_pool_size: 'min_pool_size',
  max_db_connections: 'max_db_connections',
  max_user_connections: 'max_user_connections',
  server_lifetime: 'server_lifetime',
  query_timeout: 'query_timeout',
  idle_transaction_timeout: 'idle_transaction_timeout',
  transaction_timeout: 'transaction_timeout',
  client_idle_timeout: 'client_idle_timeout',
  auth_user: 'auth_user',
  auth_query: 'auth_query',
  auth_dbname: 'auth_dbname',
  load_balance: 'load_balance',
  read_write_split: 'read_write_split',
  read_your_writes: 'read_your_writes',
  max_replica_lag: 'max_replica_lag',
  replica_fallback: 'replica_fallback',
} as const satisfies Record<string, keyof Settings>;

export type OverridableSetting = keyof typeof GLOBAL_KEY;
export type GlobalValue<K extends OverridableSetting> = Settings[(typeof GLOBAL_KEY)[K]];

/** what a DatabaseConfig or UserConfig may set; null or absent means "not here, ask the next" */
export type SettingOverrides = { readonly [K in OverridableSetting]?: GlobalValue<K> | null };

export function effectiveSetting<K extends OverridableSetting>(
  settings: Settings,
  key: K,
  database: SettingOverrides | null | undefined,
  user: SettingOverrides | null | undefined = null,
): GlobalValue<K> {
  return user?.[key] ?? database?.[key] ?? settings[GLOBAL_KEY[key]];
}

/** every overridable setting's value for one database and user */
export type EffectiveSettings = { readonly [K in OverridableSetting]: GlobalValue<K> };

/** bumped whenever a live Settings or Config changes (console SET, RELOAD): effective values read before are stale */
let revision = 0;

export function settingsChanged(): void {
  revision++;
}

export function settingsRevision(): number {
  return revision;
}

/** all of them at once, for a pool that reads several on every transaction and keeps them until settingsChanged */
export function effectiveSettings(settings: Settings, database: SettingOverrides | null | undefined, user: SettingOverrides | null | undefined): EffectiveSettings {
  const values: Partial<Record<OverridableSetting, unknown>> = {};
  for (const key of Object.keys(GLOBAL_KEY) as OverridableSetting[]) values[key] = effectiveSetting(settings, key, database, user);
  return values as EffectiveSettings;
}
