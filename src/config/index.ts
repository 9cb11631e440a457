// The config module's public face: loadConfig and what it returns, the settings table behind
// SHOW CONFIG and SET, describeConfig for check-config, diffConfig for RELOAD, auto pool sizing.
export type { AuthType, Config, DatabaseConfig, PoolMode, Settings, UserConfig } from './types.js';
export { ConfigError } from './errors.js';
export { loadConfig, databaseOriginKey, userOriginKey, type LoadConfigOptions } from './loader.js';
export {
  AUTH_TYPES,
  POOL_MODES,
  SETTING_DEFINITIONS,
  UNSUPPORTED_SETTINGS,
  defaultSettings,
  findSetting,
  findUnsupportedSetting,
  formatSetting,
  setSetting,
  type SettingDefinition,
  type SettingKind,
  type SettingName,
  type UnsupportedSetting,
} from './settings.js';
export { FALLBACK_DATABASE, RESERVED_DATABASE_NAMES } from './databases.js';
export { NON_SETTING_ENV_VARS, parseDatabaseUrl, type DatabaseUrl } from './env.js';
export { describeConfig } from './describe.js';
export { diffConfig, isEmptyDiff, type ConfigDiff, type EntryDiff } from './diff.js';
export { computeAutoPoolSize, type AutoPoolSize } from './pool-size.js';
export { formatSeconds, parseTime } from './values.js';
