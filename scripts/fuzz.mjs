#!/usr/bin/env node
// `npm run fuzz -- --runs N [--seed S]`: the differential fuzz (test/differential-fuzz.test.ts) with
// a bigger budget than CI's, after a build. The test reads FUZZ_RUNS (runs per pool mode and seed)
// and FUZZ_SEED (the random seed, printed by every run so a failure can be repeated); the exit code
// is vitest's.
//   npm run fuzz -- --runs 500
//   npm run fuzz -- --runs 50 --seed 1234567      repeat a failing run
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let values;
try {
  ({ values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' } } }));
} catch (error) {
  process.stderr.write(`fuzz: ${error.message}\nusage: npm run fuzz -- --runs N [--seed S]\n`);
  process.exit(2);
}
const env = { ...process.env };
for (const [flag, name] of [['runs', 'FUZZ_RUNS'], ['seed', 'FUZZ_SEED']]) {
  const value = values[flag];
  if (value === undefined) continue;
  if (!/^\d+$/.test(value) || (flag === 'runs' && Number(value) < 1)) {
    process.stderr.write(`fuzz: --${flag} ${value}: a ${flag === 'runs' ? 'positive' : 'non-negative'} whole number\n`);
    process.exit(2);
  }
  env[name] = value;
}

/** runs a command in the checkout with the terminal's stdio; its exit code (1 for a signal) */
function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    process.stderr.write(`fuzz: ${command}: ${result.error.message}\n`);
    return 1;
  }
  return result.status ?? 1;
}

const built = run('npm', ['run', 'build', '--silent']);
if (built !== 0) process.exit(built);
process.stderr.write(`fuzz: FUZZ_RUNS=${env.FUZZ_RUNS ?? '(default)'} FUZZ_SEED=${env.FUZZ_SEED ?? '(random)'}\n`);
process.exit(run('npx', ['vitest', 'run', 'test/differential-fuzz.test.ts'], { env }));
