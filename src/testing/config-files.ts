// Test-only: load a pooler.ini written from a string (or no file) with a given environment, and
// catch the ConfigError a bad one raises, for the config tests that check messages and origins.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { scratchDir } from './scratch-dir.js';

/** `text` as pooler.ini in a fresh scratch directory (null: no file at all), loaded from there */
export function loadConfigText(text: string | null, env: Record<string, string | undefined>, prefix = 'pooler-config-'): Config {
  const dir = scratchDir(prefix);
  if (text === null) return loadConfig({ env, cwd: dir });
  writeFileSync(path.join(dir, 'pooler.ini'), text);
  return loadConfig({ file: 'pooler.ini', env, cwd: dir });
}

export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
