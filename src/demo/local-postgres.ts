// A throwaway PostgreSQL cluster made with the installed initdb/pg_ctl in a temp dir, on a given
// port, for `pooler demo` and the tests. PostgreSQL refuses to run as root, so as root the
// binaries run as the `postgres` account.
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LocalPostgres {
  host: string;
  port: number;
  socketDir: string;
  /** stop the server but keep its data, so `start` brings the same cluster back (outage tests) */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** stop the server and remove the cluster */
  stop(): Promise<void>;
  /** a standby: make it a primary (pg_ctl promote), waiting until it takes writes */
  promote(): Promise<void>;
}

/** where initdb lives: PATH first, then the newest Debian /usr/lib/postgresql/<major>/bin */
export function findPostgresBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const initdb = join(dir, 'initdb');
    if (dir && existsSync(initdb)) return dirname(realpathSync(initdb));
  }
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const major of majors) {
    const dir = join(root, major, 'bin');
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error('initdb not found: install PostgreSQL (Debian: apt-get install -y postgresql) or start Docker');
}

/**
 * Root runs server programs (PostgreSQL, PgBouncer) as the unprivileged `postgres` account, anyone
 * else as themselves; `dir` is handed to that account so the program can write there.
 */
export function asServerUser(dir: string): { wrap: (argv: string[]) => string[] } {
  if (userInfo().uid !== 0) return { wrap: (argv) => argv };
  const account = 'postgres';
  const uid = Number(execFileSync('id', ['-u', account], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', account], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  return { wrap: (argv) => ['runuser', '-u', account, '--', ...argv] };
}

/** a PostgreSQL client program (psql, pgbench): from the server's bin dir when there is one, else PATH */
export function postgresTool(name: string): string {
  try {
    const candidate = join(findPostgresBinDir(), name);
    if (existsSync(candidate)) return candidate;
  } catch {
    // no server binaries here (a Docker run); the client package's program on PATH will do
  }
  return name;
}

async function exec(argv: string[]): Promise<string> {
  const [file, ...args] = argv;
  try {
    const { stdout } = await run(file!, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const failure = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${argv.join(' ')} failed: ${failure.stderr || failure.stdout || failure.message}`);
  }
}

/** `settings` are extra postgresql.conf lines, e.g. a higher max_connections for a benchmark */
export async function startLocalPostgres(port: number, hbaLines: string[], settings: string[] = []): Promise<LocalPostgres> {
  const binDir = findPostgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'pooler-pg-'));
  const data = join(dir, 'data');
  const { wrap } = asServerUser(dir);
  await exec(wrap([join(binDir, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']));
  // Rules go on top so they win over initdb's catch-all lines.
  const hbaPath = join(data, 'pg_hba.conf');
  const stock = readFileSync(hbaPath, 'utf8');
  writeFileSync(hbaPath, [...hbaLines, '', stock].join('\n'));
  return configureAndStart(binDir, dir, port, settings);
}

/**
 * A streaming standby of `primary` (pg_basebackup -R), on its own port: for tests where a standby
 * is promoted after the primary stops.
 */
export async function startLocalStandby(primary: LocalPostgres, port: number): Promise<LocalPostgres> {
  const binDir = findPostgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'pooler-pg-standby-'));
  const { wrap } = asServerUser(dir);
  await exec(wrap([join(binDir, 'pg_basebackup'), '-D', join(dir, 'data'), '-R', '-X', 'stream', '-h', primary.host, '-p', String(primary.port), '-U', 'postgres']));
  return configureAndStart(binDir, dir, port, []);
}

async function configureAndStart(binDir: string, dir: string, port: number, settings: string[]): Promise<LocalPostgres> {
  const data = join(dir, 'data');
  const { wrap } = asServerUser(dir);
  appendFileSync(
    join(data, 'postgresql.conf'),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'max_connections = 300',
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      "log_min_messages = 'warning'",
      ...settings,
      '',
    ].join('\n'),
  );
  const start = () => exec(wrap([join(binDir, 'pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'])).then(() => undefined);
  const halt = () => exec(wrap([join(binDir, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'])).then(() => undefined);
  await start();
  return {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    halt,
    start,
    promote: () => exec(wrap([join(binDir, 'pg_ctl'), '-D', data, '-w', 'promote'])).then(() => undefined),
    stop: async () => {
      await halt().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
