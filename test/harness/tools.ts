// PostgreSQL's own command-line clients (psql, pgbench) run as child processes, with their output
// parsed into what the tests assert on.
import { execFile } from 'node:child_process';
import { postgresTool } from '../../src/demo/local-postgres.js';

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PgbenchResult extends ToolResult {
  /** transactions per second as pgbench reports them, 0 when it printed none */
  tps: number;
  /** pgbench's "number of failed transactions"; NaN when it printed none (it died before the summary) */
  failed: number;
}

export function runTool(name: string, args: string[], env: Record<string, string> = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(postgresTool(name), args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export async function runPgbench(args: string[], env: Record<string, string> = {}): Promise<PgbenchResult> {
  const result = await runTool('pgbench', args, env);
  const tps = /tps = ([\d.]+)/.exec(result.stdout);
  const failed = /number of failed transactions: (\d+)/.exec(result.stdout);
  return {
    ...result,
    tps: tps ? Number(tps[1]) : 0,
    failed: failed ? Number(failed[1]) : Number.NaN,
  };
}
