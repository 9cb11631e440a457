// `pooler size`: the pool size default_pool_size = auto would pick, with the arithmetic shown.
import { computeAutoPoolSize } from '../config/index.js';

export function sizeCommand(options: { cores: string; spindles: string }): void {
  const cores = Number(options.cores);
  const spindles = Number(options.spindles);
  if (!Number.isInteger(cores) || cores < 1 || !Number.isInteger(spindles) || spindles < 0) {
    process.stderr.write('pooler: --cores must be a whole number ≥ 1 and --spindles a whole number ≥ 0\n');
    process.exit(2);
  }
  const { size, arithmetic } = computeAutoPoolSize(cores, spindles);
  process.stdout.write(`default_pool_size = auto → ${arithmetic}\n${size}\n`);
}
