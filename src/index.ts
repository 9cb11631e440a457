// The public API: build a pooler from a loaded configuration and start it.
//   const pooler = createPooler(loadConfig({ file: 'pooler.ini' }));
//   await pooler.listen();
import { silentLogger, type Logger } from './log.js';
import { Pooler } from './pooler.js';
import type { Config } from './config/types.js';

export { Pooler, type ShutdownMode } from './pooler.js';
export { loadConfig, ConfigError } from './config/index.js';
export type { Config, Settings, DatabaseConfig, UserConfig, PoolMode, AuthType } from './config/types.js';
export { createLogger, type Logger } from './log.js';

export function createPooler(config: Config, options: { logger?: Logger } = {}): Pooler {
  return new Pooler(config, options.logger ?? silentLogger);
}
