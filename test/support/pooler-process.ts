// Runs the real `pooler` CLI (compiled dist/) as a child process with a temporary pooler.ini, on an
// ephemeral port, and stops it after the test. Logs go to a file that is printed if startup fails,
// and on stop the log and output are scanned for every password and secret the pooler was given.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface PoolerProcess {
  port: number;
  pid: number;
  dir: string;
  child: ChildProcess;
  logFile: string;
  /** a connection URL for node-postgres / psql through the pooler */
  url(database: string, user?: string, password?: string): string;
  /** a password a test sends some other way (psql's PGPASSWORD): the log scan looks for it too */
  rememberSecret(secret: string): void;
  /** resident set size in bytes, from /proc */
  rss(): number;
  /** the exit code once the process ends */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface PoolerOptions {
  /** lines for the [pooler] section (listen_port is added) */
  settings?: Record<string, string | number>;
  /** [databases] entries: name → connection string */
  databases: Record<string, string>;
  users?: Record<string, string>;
  /** userlist.txt lines: user → secret */
  authFile?: Record<string, string>;
  env?: Record<string, string>;
  /** listen_port; a free one when not given */
  port?: number;
}

export async function startPooler(options: PoolerOptions): Promise<PoolerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'pooler-test-'));
  const port = options.port ?? (await freePort());
  const logFile = join(dir, 'pooler.log');
  // metrics_port defaults to 9127; tests run poolers side by side, so it is off unless a test sets one
  const lines = ['[pooler]', 'listen_addr = 127.0.0.1', `listen_port = ${port}`, `logfile = ${logFile}`];
  if (options.settings?.metrics_port === undefined) lines.push('metrics_port = 0');
  if (options.authFile) {
    const authPath = join(dir, 'userlist.txt');
    writeFileSync(
      authPath,
      Object.entries(options.authFile)
        .map(([user, secret]) => `"${user}" "${secret}"`)
        .join('\n') + '\n',
    );
    lines.push(`auth_file = ${authPath}`);
  }
  for (const [key, value] of Object.entries(options.settings ?? {})) lines.push(`${key} = ${value}`);
  lines.push('', '[databases]');
  for (const [name, connstring] of Object.entries(options.databases)) lines.push(`${name} = ${connstring}`);
  if (options.users) {
    lines.push('', '[users]');
    for (const [name, settings] of Object.entries(options.users)) lines.push(`${name} = ${settings}`);
  }
  const secrets = new Set<string>();
  for (const secret of Object.values(options.authFile ?? {})) addSecret(secrets, secret);
  for (const connstring of Object.values(options.databases)) {
    for (const match of connstring.matchAll(/password=('(?:[^']|'')*'|\S+)/g)) addSecret(secrets, match[1]!.replace(/^'|'$/g, '').replace(/''/g, "'"));
  }
  const iniPath = join(dir, 'pooler.ini');
  writeFileSync(iniPath, lines.join('\n') + '\n');

  const child = spawn(process.execPath, [CLI, 'start', '-c', iniPath], {
    env: { ...process.env, DATABASE_URL: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const readLog = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return ''; // no log file yet
    }
  };
  // Another test's process may have taken the port between freePort and the pooler's listen: a
  // connection alone could reach that one, so the pooler's own log must say it listens there.
  const listening = `listening on 127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  while (!(readLog().includes(listening) && (await canConnect(port)))) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('running'), 50))]);
    if (code !== 'running' || Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = readLog();
      if (options.port === undefined && code !== 'running' && /EADDRINUSE/.test(output + log)) {
        rmSync(dir, { recursive: true, force: true });
        return startPooler(options);
      }
      throw new Error(`pooler did not start (exit ${String(code)}):\n${output}\n${log}`);
    }
  }

  return {
    port,
    pid: child.pid!,
    dir,
    child,
    logFile,
    exited,
    rememberSecret: (secret) => addSecret(secrets, secret),
    url: (database, user = 'postgres', password) =>
      (password && addSecret(secrets, password), `postgres://${encodeURIComponent(user)}${password ? ':' + encodeURIComponent(password) : ''}@127.0.0.1:${port}/${database}`),
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const match = /VmRSS:\s+(\d+) kB/.exec(status);
      return match ? Number(match[1]) * 1024 : 0;
    },
    stop: async (signal: NodeJS.Signals = 'SIGQUIT') => {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(timer);
      let log = output;
      try {
        log += readFileSync(logFile, 'utf8');
      } catch {
        // it never wrote one
      }
      rmSync(dir, { recursive: true, force: true });
      const leaked = [...secrets].filter((secret) => log.includes(secret));
      if (leaked.length > 0) throw new Error(`the pooler log contains ${leaked.length} secret(s) it was given: ${leaked.map((s) => s.slice(0, 3) + '…').join(', ')}`);
      return code;
    },
  };
}

/**
 * Passwords, and the parts of a SCRAM secret that must stay private (StoredKey, ServerKey); very
 * short ones would match by chance and prove nothing.
 */
function addSecret(secrets: Set<string>, secret: string): void {
  const scram = /^SCRAM-SHA-256\$\d+:[^$]+\$([^:]+):(.+)$/.exec(secret);
  for (const part of scram ? [secret, scram[1]!, scram[2]!] : [secret]) if (part.length >= 5) secrets.add(part);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
