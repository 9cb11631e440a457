// One benchmark cell: pgbench against one target for a few seconds, with throughput from its
// summary, latency percentiles from its per-transaction log, and the target's CPU time per
// transaction and peak RSS from /proc.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresTool } from '../src/demo/local-postgres.js';
import { cpuMicros, sampleRss } from './proc-stats.js';
import { DATABASE, type Target } from './targets.js';
import type { Workload } from './workloads.js';

export interface CellResult {
  target: Target['name'];
  workload: string;
  clients: number;
  /** ok, or why the target could not run the workload (PgBouncer 1.18 and -M prepared in transaction mode) */
  status: 'ok' | 'unsupported' | 'failed';
  error?: string;
  tps: number;
  transactions: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** the pooler process's user + system CPU per transaction; null for PostgreSQL direct */
  cpuUsPerXact: number | null;
  /** the user part of cpuUsPerXact: the pooler's own work, where system time is mostly the reads and writes both poolers make */
  userUsPerXact: number | null;
  peakRssBytes: number | null;
  /** split targets only: how many of their standbys ran the workload's read during the cell */
  standbysServing?: number;
}

function runPgbench(args: string[], cwd: string, password: string | null): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = password === null ? process.env : { ...process.env, PGPASSWORD: password };
  return new Promise((resolve) => {
    execFile(postgresTool('pgbench'), args, { cwd, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** latencies in microseconds from pgbench's -l files (the third field of each line) */
function readLatencies(dir: string): Float64Array {
  const values: number[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.startsWith('pgbench_log')) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const field = line.split(' ')[2];
      if (field !== undefined && /^\d+$/.test(field)) values.push(Number(field));
    }
  }
  return Float64Array.from(values).sort();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function classify(output: string): { status: CellResult['status']; error: string } {
  const line = output.split('\n').find((l) => /error|FATAL|aborted/i.test(l)) ?? output.trim().split('\n')[0] ?? 'pgbench failed';
  const unsupported = /prepared statement .* (does not exist|already exists)/.test(output);
  return { status: unsupported ? 'unsupported' : 'failed', error: line.trim().slice(0, 200) };
}

export async function runCell(target: Target, workload: Workload, clients: number, seconds: number): Promise<CellResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cell-'));
  const threads = Math.min(clients, 2);
  const args = ['-n', '-c', String(clients), '-j', String(threads), '-T', String(seconds), ...workload.args];
  args.push('-l', '--log-prefix', join(dir, 'pgbench_log'), '-h', '127.0.0.1', '-p', String(target.port), '-U', 'postgres', DATABASE);
  const cpuBefore = target.pid === null ? null : cpuMicros(target.pid);
  const rss = target.pid === null ? null : sampleRss(target.pid);
  const result = await runPgbench(args, dir, target.password);
  const peakRssBytes = rss?.stop() ?? null;
  const cpuAfter = target.pid === null ? null : cpuMicros(target.pid);
  const latencies = readLatencies(dir);
  rmSync(dir, { recursive: true, force: true });

  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(result.stdout)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(result.stdout)?.[1] ?? 0);
  const base = { target: target.name, workload: workload.name, clients };
  if (result.code !== 0 || failed > 0 || transactions === 0) {
    return { ...base, ...classify(result.stderr + result.stdout), tps: 0, transactions, latencyP50Ms: 0, latencyP99Ms: 0, cpuUsPerXact: null, userUsPerXact: null, peakRssBytes };
  }
  return {
    ...base,
    status: 'ok',
    tps: Number(/tps = ([\d.]+)/.exec(result.stdout)?.[1] ?? 0),
    transactions,
    latencyP50Ms: percentile(latencies, 0.5) / 1000,
    latencyP99Ms: percentile(latencies, 0.99) / 1000,
    cpuUsPerXact: cpuBefore === null || cpuAfter === null ? null : (cpuAfter.total - cpuBefore.total) / transactions,
    userUsPerXact: cpuBefore === null || cpuAfter === null ? null : (cpuAfter.user - cpuBefore.user) / transactions,
    peakRssBytes,
  };
}
