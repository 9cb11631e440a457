// Loads the configuration for a CLI command, printing a config error and exiting with status 2.
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';

export function loadConfigOrExit(positional: string | undefined, option: string | undefined): Config {
  try {
    return loadConfig({ file: option ?? positional ?? null, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pooler: ${error.message}\n`);
      process.exit(2);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`pooler: cannot load configuration: ${message}\n`);
    process.exit(2);
  }
}
