// The things the benchmark measures side by side: PostgreSQL direct, PgBouncer (Debian's package,
// installed when missing) and pooler, the poolers started from the same pgbouncer.ini text so
// their settings cannot drift apart; pooler also in front of a primary and its standbys.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asServerUser, postgresTool, startLocalPostgres, type LocalPostgres } from '../src/demo/local-postgres.js';
import { freePort } from '../src/net/free-port.js';

/**
 * `variant`: a second pooler with some settings changed (--variant), to measure what they cost;
 * `split-N`: pooler with read_write_split=on over a primary and N standbys;
 * `floor`: node-floor.ts, the least a pooler on Node's sockets costs (--floor)
 */
export type TargetName = 'direct' | 'pgbouncer' | 'pooler' | 'variant' | 'split-1' | 'split-2' | 'floor';

export interface Target {
  name: TargetName;
  port: number;
  /** the process to measure; null for PostgreSQL direct (its cost is the baseline, not a pooler's) */
  pid: number | null;
  version: string;
  /** what clients log in with (PGPASSWORD); null where login is by trust */
  password: string | null;
  stop(): Promise<void>;
}

/** client login to the poolers: trust, or SCRAM-SHA-256 against a plaintext auth_file password */
export type BenchAuth = 'trust' | 'scram';
const SCRAM_PASSWORD = 'bench-scram-password';

export const DATABASE = 'bench';

/** the tuning of every PostgreSQL the bench makes */
export const BENCH_SETTINGS = ['shared_buffers = 256MB', 'max_wal_size = 4GB', 'checkpoint_timeout = 30min', 'autovacuum = off'];

/** a tuned throwaway PostgreSQL that takes 1000 direct clients */
export function startBenchPostgres(): Promise<LocalPostgres> {
  return freePort().then((port) => startLocalPostgres(port, ['host all all 127.0.0.1/32 trust'], ['max_connections = 1100', ...BENCH_SETTINGS]));
}

function psql(port: number, sql: string): string {
  return execFileSync(postgresTool('psql'), ['-X', '-A', '-t', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', sql], { encoding: 'utf8' }).trim();
}

/** the bench database with pgbench's tables at `scale`; returns the server's version */
export function initBenchDatabase(port: number, scale: number): string {
  psql(port, `CREATE DATABASE ${DATABASE}`);
  execFileSync(postgresTool('pgbench'), ['-i', '-q', '-s', String(scale), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DATABASE], { stdio: 'ignore' });
  return psql(port, 'SHOW server_version');
}

function pgbouncerBinary(): string {
  for (const path of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) if (existsSync(path)) return path;
  if (process.getuid?.() === 0) {
    process.stderr.write('installing PgBouncer from Debian\'s packages for the benchmark\n');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'pgbouncer'], { stdio: 'ignore', env });
    if (existsSync('/usr/sbin/pgbouncer')) return '/usr/sbin/pgbouncer';
  }
  throw new Error('pgbouncer is not installed and could not be installed (Debian: apt-get install pgbouncer)');
}

/**
 * The [databases] entry: one server, or (standbys given) a primary and its standbys through
 * read_write_split, reads spread over the standbys in turn.
 */
function databaseEntry(postgresPort: number, standbyPorts: number[]): string {
  const ports = [postgresPort, ...standbyPorts];
  const hosts = ports.map(() => '127.0.0.1').join(',');
  const split = standbyPorts.length > 0 ? ' read_write_split=on load_balance=round_robin' : '';
  return `${DATABASE} = host=${hosts} port=${ports.join(',')} dbname=${DATABASE}${split}`;
}

/** the shared configuration; only the ports, file paths and [databases] entry differ between the poolers */
function poolerIni(section: string, database: string, port: number, dir: string, poolSize: number, auth: BenchAuth): string {
  return [
    '[databases]',
    database,
    '',
    `[${section}]`,
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    // empty: no Unix socket, so a bench run never touches another pooler's socket file
    'unix_socket_dir =',
    `auth_type = ${auth === 'scram' ? 'scram-sha-256' : 'trust'}`,
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${poolSize}`,
    'max_client_conn = 12000',
    'ignore_startup_parameters = extra_float_digits',
    'log_connections = 0',
    'log_disconnections = 0',
    `pidfile = ${join(dir, 'pid')}`,
    `logfile = ${join(dir, 'log')}`,
    'metrics_port = 0',
    '',
  ].join('\n');
}

async function waitForPidfile(dir: string, child: ChildProcess, what: string): Promise<number> {
  const pidfile = join(dir, 'pid');
  for (let i = 0; i < 200; i++) {
    if (existsSync(pidfile)) {
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      if (pid > 0) return pid;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
  throw new Error(`${what} did not start:\n${log}`);
}

async function stopProcess(pid: number, dir: string): Promise<void> {
  try {
    process.kill(pid, 'SIGQUIT');
  } catch {
    // already gone
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  rmSync(dir, { recursive: true, force: true });
}

/** the auth_file both poolers read: an empty password for trust, a plaintext one for SCRAM */
function writeUserlist(dir: string, auth: BenchAuth): string | null {
  const password = auth === 'scram' ? SCRAM_PASSWORD : null;
  writeFileSync(join(dir, 'userlist.txt'), `"postgres" "${password ?? ''}"\n`);
  return password;
}

export async function startPgbouncer(postgresPort: number, poolSize: number, auth: BenchAuth): Promise<Target> {
  const binary = pgbouncerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'bench-pgbouncer-'));
  const port = await freePort();
  const password = writeUserlist(dir, auth);
  // PgBouncer 1.18 rejects metrics_port; it is pooler's own key, so the PgBouncer copy drops it
  writeFileSync(join(dir, 'pgbouncer.ini'), poolerIni('pgbouncer', databaseEntry(postgresPort, []), port, dir, poolSize, auth).replace('metrics_port = 0\n', ''));
  const { wrap } = asServerUser(dir);
  // runuser starts a login session whose soft open-files limit is 1024; PgBouncer needs one per client
  const [command, ...args] = wrap(['sh', '-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$1"', binary, join(dir, 'pgbouncer.ini')]);
  const child = spawn(command!, args, { stdio: 'ignore', detached: false });
  const pid = await waitForPidfile(dir, child, 'PgBouncer');
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  return { name: 'pgbouncer', port, pid, version, password, stop: () => stopProcess(pid, dir) };
}

/** how the variant pooler differs from the first: settings lines for [pgbouncer], node options, another build */
export interface PoolerVariant {
  readonly settings: readonly string[];
  readonly nodeArgs: readonly string[];
  /** another build's dist/cli/main.js (a worktree of the commit before a change); null for this one */
  readonly cli: string | null;
}

const NO_VARIANT: PoolerVariant = { settings: [], nodeArgs: [], cli: null };

/**
 * `variant`: settings or node options that make this pooler the `variant` target;
 * `standbyPorts`: standbys of the server at postgresPort, which make it `split-N`
 */
export async function startPooler(postgresPort: number, poolSize: number, auth: BenchAuth, variant: PoolerVariant = NO_VARIANT, standbyPorts: number[] = []): Promise<Target> {
  const extra = variant.settings;
  const dir = mkdtempSync(join(tmpdir(), 'bench-pooler-'));
  const port = await freePort();
  const password = writeUserlist(dir, auth);
  const ini = poolerIni('pgbouncer', databaseEntry(postgresPort, standbyPorts), port, dir, poolSize, auth);
  writeFileSync(join(dir, 'pooler.ini'), ini + extra.map((line) => `${line}\n`).join(''));
  const cli = variant.cli ?? join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
  // BENCH_POOLER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the pooler under the workload
  const nodeArgs = [...(process.env.BENCH_POOLER_NODE_ARGS ?? '').split(' ').filter(Boolean), ...variant.nodeArgs];
  const child = spawn(process.execPath, [...nodeArgs, cli, 'start', '-c', join(dir, 'pooler.ini')], { stdio: 'ignore', env: { ...process.env, DATABASE_URL: '' } });
  const pid = await waitForPidfile(dir, child, 'pooler');
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  const name = poolerName(variant !== NO_VARIANT, standbyPorts);
  const settings = [...extra, ...variant.nodeArgs.map((arg) => `node ${arg}`), ...(variant.cli === null ? [] : [`the build at ${variant.cli}`]), ...(standbyPorts.length > 0 ? [`read_write_split over ${standbyPorts.length === 1 ? 'one standby' : `${standbyPorts.length} standbys`}`] : [])];
  const version = `pooler ${pkg.version} (node ${process.version})${settings.length === 0 ? '' : ` with ${settings.join(', ')}`}`;
  return { name, port, pid, version, password, stop: () => stopProcess(pid, dir) };
}

function poolerName(isVariant: boolean, standbyPorts: number[]): TargetName {
  if (standbyPorts.length === 1) return 'split-1';
  if (standbyPorts.length === 2) return 'split-2';
  if (standbyPorts.length > 2) throw new Error('the bench names split targets for one or two standbys only');
  return isVariant ? 'variant' : 'pooler';
}

/** node-floor.ts in front of the server at postgresPort, with `poolSize` servers */
export async function startFloor(postgresPort: number, poolSize: number): Promise<Target> {
  const port = await freePort();
  const script = join(import.meta.dirname, 'node-floor.js');
  const child = spawn(process.execPath, [script, String(port), String(postgresPort), String(poolSize), DATABASE], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the Node floor exited with ${code} before listening`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { name: 'floor', port, pid: child.pid!, version: `node-floor (node ${process.version})`, password: null, stop };
}

export function directTarget(postgres: LocalPostgres, version: string): Target {
  return { name: 'direct', port: postgres.port, pid: null, version, password: null, stop: async () => undefined };
}
