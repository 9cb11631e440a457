// `npm run bench`: PostgreSQL direct, PgBouncer and pooler side by side in one run — pgbench over
// the workload × clients matrix with the targets interleaved round by round, idle-client memory,
// and the results as JSON, a markdown table and an SVG chart in bench/results/.
//   npm run bench                      the full matrix, 3 rounds of 5 s per cell
//   npm run bench -- --quick           one cell (select-only extended, 10 clients), 1 round of 2 s
//   npm run bench -- --workloads 'select-only extended' --clients 100 --rounds 5 --seconds 10
//   npm run bench -- --auth scram --workloads 'select-only connect-per-xact'   clients log in to
//                                      both poolers with SCRAM-SHA-256 (PostgreSQL direct: trust)
//   npm run bench -- --variant 'session_state = ignore'   a second pooler with these settings
//                                      (';'-separated), and a table of what the first costs more
//   npm run bench -- --variant-node-args=--max-semi-space-size=16   the variant runs with these
//                                      node options (space-separated), alone or with --variant
//   npm run bench -- --variant-cli ../before/dist/cli/main.js   the variant is another build (say
//                                      a worktree of the commit before a change), same settings
//   npm run bench -- --floor --workloads 'select-only extended'   also node-floor.ts, the least a
//                                      pooler on Node's sockets costs (pgbench -S only)
//   npm run bench -- --workloads 'select-only split'   read-only through read_write_split with one
//                                      and two standbys (starts a primary and two standbys)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measureIdleConnections, type IdleResult } from './idle-connections.js';
import { runCell, type CellResult } from './pgbench-cell.js';
import { markdown, summarize, svgChart } from './report.js';
import { startSplitBench, type SplitBench } from './split.js';
import { directTarget, initBenchDatabase, startBenchPostgres, startFloor, startPgbouncer, startPooler, type BenchAuth, type Target } from './targets.js';
import { CLIENT_COUNTS, WORKLOADS, findWorkload } from './workloads.js';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workloads: { type: 'string' },
    clients: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    scale: { type: 'string' },
    idle: { type: 'string' },
    out: { type: 'string' },
    auth: { type: 'string', default: 'trust' },
    variant: { type: 'string' },
    'variant-node-args': { type: 'string' },
    'variant-cli': { type: 'string' },
    floor: { type: 'boolean', default: false },
  },
});

const quick = options.quick === true;
const workloads = options.workloads ? options.workloads.split(',').map((name) => findWorkload(name.trim())) : quick ? [findWorkload('select-only extended')] : WORKLOADS;
const clientCounts = options.clients ? options.clients.split(',').map(Number) : quick ? [10] : CLIENT_COUNTS;
const rounds = Number(options.rounds ?? (quick ? 1 : 3));
const seconds = Number(options.seconds ?? (quick ? 2 : 5));
const scale = Number(options.scale ?? (quick ? 1 : 10));
const idleCount = Number(options.idle ?? (quick ? 100 : 10_000));
if (options.auth !== 'trust' && options.auth !== 'scram') throw new Error(`--auth ${options.auth}: use trust or scram`);
const auth: BenchAuth = options.auth;
const outDir = options.out ?? join(import.meta.dirname, '..', '..', 'bench', 'results');
/** the pool size formula: cores × 2 + effective spindles (1 for SSD or cloud disks) */
const poolSize = cpus().length * 2 + 1;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** the one PostgreSQL of the ordinary workloads and its targets */
async function startSingle(stack: (() => Promise<void>)[]): Promise<Target[]> {
  const postgres = await startBenchPostgres();
  stack.push(() => postgres.stop());
  const postgresVersion = initBenchDatabase(postgres.port, scale);
  const targets = [directTarget(postgres, `PostgreSQL ${postgresVersion}`)];
  const start = async (target: Promise<Target>) => {
    const started = await target;
    stack.push(() => started.stop());
    targets.push(started);
  };
  await start(startPgbouncer(postgres.port, poolSize, auth));
  await start(startPooler(postgres.port, poolSize, auth));
  // --variant 'session_state = ignore': a second pooler, interleaved with the first, so what the settings cost is measured in one run
  const variant = {
    settings: (options.variant ?? '').split(';').map((line) => line.trim()).filter(Boolean),
    nodeArgs: (options['variant-node-args'] ?? '').split(' ').filter(Boolean),
    cli: options['variant-cli'] ? resolve(options['variant-cli']) : null,
  };
  if (variant.settings.length + variant.nodeArgs.length > 0 || variant.cli !== null) await start(startPooler(postgres.port, poolSize, auth, variant));
  if (options.floor) await start(startFloor(postgres.port, poolSize));
  return targets;
}

async function main(): Promise<void> {
  log(`bench: client login ${auth}; ${workloads.length} workloads × ${clientCounts.join('/')} clients × ${rounds} rounds of ${seconds} s; pool size ${poolSize}`);
  // what was started, stopped in reverse order however the run ends
  const stack: (() => Promise<void>)[] = [];
  try {
    // each PostgreSQL only when a selected workload needs it: the standbys take time to make and share the cores
    const targets = workloads.some((w) => !w.split) ? await startSingle(stack) : [];
    let split: SplitBench | null = null;
    if (workloads.some((w) => w.split)) {
      split = await startSplitBench(scale, poolSize, auth, log);
      stack.push(split.stop);
    }

    const results: CellResult[] = [];
    // kept up to date after every cell, so a run that dies late still leaves its figures
    mkdirSync(outDir, { recursive: true });
    const partialFile = join(outDir, 'partial.tmp');
    for (const workload of workloads) {
      const cellTargets = workload.split ? split!.targets : targets;
      for (const clients of clientCounts) {
        for (let round = 1; round <= rounds; round++) {
          // interleaved A B C A B C: a slow drift of the machine hits every target alike
          for (const target of cellTargets) {
            const started = new Date();
            const result = await runCell(target, workload, clients, seconds);
            if (target.name.startsWith('split-')) result.standbysServing = await split!.standbysServing(target, started);
            results.push(result);
            writeFileSync(partialFile, JSON.stringify(results) + '\n');
            const served = result.standbysServing === undefined ? '' : `, ${result.standbysServing} standbys served reads`;
            const shown = result.status === 'ok' ? `${result.tps.toFixed(0)} tps, p99 ${result.latencyP99Ms.toFixed(2)} ms${served}` : `${result.status}: ${result.error}`;
            log(`${workload.name}, ${clients} clients, round ${round}, ${target.name}: ${shown}`);
          }
        }
      }
    }

    const idle: IdleResult[] = [];
    // the split run's PgBouncer and pooler are configured like the others, so they stand in when alone
    const idleTargets = targets.length > 0 ? targets : split!.targets.filter((t) => t.name === 'pgbouncer' || t.name === 'pooler');
    if (idleCount > 1) {
      for (const target of idleTargets.filter((t) => t.pid !== null && t.name !== 'floor')) {
        try {
          const result = await measureIdleConnections(target, idleCount);
          idle.push(result);
          log(`${idleCount} idle clients on ${target.name}: ${result.bytesPerConnection} bytes each`);
        } catch (error) {
          log(`${idleCount} idle clients on ${target.name}: failed: ${(error as Error).message}`);
        }
      }
    }

    const summaries = summarize(results);
    const date = new Date().toISOString().replace(/:\d\d\.\d+Z$/, '').replace(':', '');
    const base = join(outDir, `${date}-${hostname()}`);
    mkdirSync(outDir, { recursive: true });
    const table = markdown(summaries, idle);
    const meta = {
      date: new Date().toISOString(),
      host: hostname(),
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      versions: {
        ...(split === null ? {} : { primary: `PostgreSQL ${split.version}, 2 standbys` }),
        ...Object.fromEntries([...targets, ...(split?.targets ?? [])].map((t) => [t.name, t.version])),
      },
      settings: { poolSize, poolMode: 'transaction', auth, rounds, seconds, scale, idleCount },
    };
    writeFileSync(`${base}.json`, JSON.stringify({ ...meta, summaries, results, idle }, null, 2) + '\n');
    writeFileSync(`${base}.svg`, svgChart(summaries));
    writeFileSync(`${base}.md`, `${meta.date} on ${meta.host} (${meta.cpu}, ${meta.cores} cores); ${Object.values(meta.versions).join(', ')}\n\n${table}`);
    process.stdout.write(table);
    rmSync(partialFile, { force: true });
    log(`results: ${base}.json, ${base}.md, ${base}.svg`);
  } finally {
    for (const stop of stack.reverse()) await stop();
  }
}

await main();
