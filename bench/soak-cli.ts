// `npm run soak -- --minutes N`: the soak of bench/soak.ts, a table row per sample on stdout and
// the slopes at the end; exit 1 when a slope is not flat or the workload saw an unexpected error.
//   npm run soak -- --minutes 60                  a row a minute, slopes after 1 min of warm-up
//   npm run soak -- --minutes 0.5 --every 5       fractional minutes work too
//   npm run soak -- --minutes 10 --clients 12 --pool-size 6 --warmup 2
import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    every: { type: 'string' },
    warmup: { type: 'string' },
    clients: { type: 'string', default: '6' },
    'pool-size': { type: 'string', default: '4' },
  },
});

const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes ${values.minutes}: a positive number of minutes`);
// a row a minute on long runs, every 10 s on short ones (at least 6 rows either way)
const every = Number(values.every ?? (minutes >= 10 ? 60 : Math.max(1, Math.min(10, (minutes * 60) / 6))));
const warmup = Number(values.warmup ?? Math.min(1, minutes / 2));

const result = await runSoak({
  minutes,
  sampleSeconds: every,
  warmupMinutes: warmup,
  clients: Number(values.clients),
  poolSize: Number(values['pool-size']),
  log: (line) => process.stdout.write(`${line}\n`),
});
const unjudged = result.slopes.filter((s) => s.limit === null).map((s) => s.series);
process.stdout.write(result.ok ? `soak: passed${unjudged.length > 0 ? ` (${unjudged.join(', ')} not judged: too short after the warm-up)` : ''}\n` : 'soak: FAILED\n');
process.exitCode = result.ok ? 0 : 1;
