// `pooler check-config`: print the effective settings, where each came from, and any warnings.
import { describeConfig } from '../config/index.js';
import { loadConfigOrExit } from './load.js';

export function checkConfigCommand(positional: string | undefined, options: { config?: string }): void {
  const config = loadConfigOrExit(positional, options.config);
  process.stdout.write(describeConfig(config));
}
