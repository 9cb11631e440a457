// Debian's python3 with the drivers test/harness/ensure-packages.sh installs (asyncpg, psycopg 3):
// runs a script with the connection string in $DSN and returns what it printed.
import { execFile } from 'node:child_process';

/** Debian's python3, where python3-asyncpg and python3-psycopg install */
const PYTHON = '/usr/bin/python3';

export function runPython(script: string, dsn: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, ['-c', script], { env: { ...process.env, DSN: dsn, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
