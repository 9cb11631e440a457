// Signals sent to a real `pooler start`, beyond reload-and-signals.test.ts (SIGTERM is in cli.test.ts
// and drain.test.ts): what SIGHUP re-reads and what it must leave alone, SIGINT's PgBouncer 1.23
// rules (no new server for a released client, session clients keep theirs), and escalation to exit.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerOptions, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
// a database of its own: the SIGQUIT test leaves a pg_sleep backend behind for a moment, and other
// files count the backends of theirs
const DATABASE = 'signals_db';
const target = `host=${postgres.host} port=${postgres.port} dbname=${DATABASE}`;
const started: PoolerProcess[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  await postgres.createDatabase(DATABASE);
});

afterEach(async () => {
  // a failed assertion must not leave sockets open or a pooler running into the next test
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

async function start(options: Partial<PoolerOptions> = {}): Promise<PoolerProcess> {
  const p = await startPooler({
    ...options,
    settings: { auth_type: 'trust', pool_mode: 'transaction', ...options.settings },
    databases: options.databases ?? { app: target },
  });
  started.push(p);
  return p;
}

async function connect(p: PoolerProcess, database = 'app', password?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: p.url(database, 'postgres', password) });
  // the pooler closing a client is what several tests expect; it must not crash the test runner
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

/** the error a fresh login and one query get right now, or null when they work */
async function loginError(p: PoolerProcess, database = 'app', password?: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: p.url(database, 'postgres', password) });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const ini = (p: PoolerProcess): string => join(p.dir, 'pooler.ini');
const editIni = (p: PoolerProcess, edit: (text: string) => string): void => {
  const before = readFileSync(ini(p), 'utf8');
  const after = edit(before);
  expect(after, 'the test edit must change pooler.ini').not.toBe(before);
  writeFileSync(ini(p), after);
};

function logText(p: PoolerProcess): string {
  try {
    return readFileSync(p.logFile, 'utf8');
  } catch {
    return '';
  }
}

/**
 * sends SIGHUP and waits until the pooler has finished handling it; the log line is only the
 * synchronisation point, every test then checks what a client sees
 */
async function sighup(p: PoolerProcess): Promise<'reloaded' | 'failed'> {
  const count = (): number => (logText(p).match(/configuration reloaded|RELOAD failed/g) ?? []).length;
  const before = count();
  p.child.kill('SIGHUP');
  await waitUntil(async () => count(), (n) => n > before, 'the pooler to handle SIGHUP');
  const last = [...logText(p).matchAll(/configuration reloaded|RELOAD failed/g)].at(-1)![0];
  return last === 'RELOAD failed' ? 'failed' : 'reloaded';
}

/**
 * every error a fresh client sees running BEGIN; SELECT 1; COMMIT. Statement mode ends the client
 * once the server reports the open transaction, so the error can arrive on any of the three
 */
async function transactionBlockErrors(p: PoolerProcess, database: string): Promise<string> {
  const errors: string[] = [];
  const client = new pg.Client({ connectionString: p.url(database) });
  client.on('error', (e: Error) => errors.push(e.message));
  await client.connect();
  for (const sql of ['BEGIN', 'SELECT 1', 'COMMIT']) await client.query(sql).catch((e: Error) => errors.push(e.message));
  await client.end().catch(() => undefined);
  return errors.join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * two clients open a transaction each: with a pool of one the second waits for the first to commit
 * and then gets the same backend; with a pool of two it gets its own at once
 */
async function twoTransactions(p: PoolerProcess): Promise<{ secondQueued: boolean; samePid: boolean }> {
  const first = await connect(p);
  const second = await connect(p);
  await first.query('BEGIN');
  const pidFirst = (await first.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const begun = second.query('BEGIN').then(() => 'begun' as const);
  const secondQueued = (await Promise.race([begun, sleep(700).then(() => 'queued' as const)])) === 'queued';
  await first.query('COMMIT');
  await begun;
  const pidSecond = (await second.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  await second.query('COMMIT');
  await Promise.all([first.end(), second.end()]);
  return { secondQueued, samePid: pidFirst === pidSecond };
}

describe('SIGHUP', () => {
  it('applies a per-database pool_mode change to new clients and leaves other databases alone', async () => {
    const p = await start({ settings: { pool_mode: 'session' }, databases: { app: `${target} pool_mode=transaction`, other: target } });
    expect(await transactionBlockErrors(p, 'app')).toBe('');

    editIni(p, (text) => text.replace(`dbname=${DATABASE} pool_mode=transaction`, `dbname=${DATABASE} pool_mode=statement`));
    expect(await sighup(p)).toBe('reloaded');

    expect(await transactionBlockErrors(p, 'app')).toContain('transaction blocks not allowed in statement pooling mode');
    expect(await transactionBlockErrors(p, 'other')).toBe('');
  });

  it('stops accepting a database removed from [databases], and keeps serving the rest', async () => {
    const p = await start({ databases: { app: target, gone: target } });
    expect(await loginError(p, 'gone')).toBeNull();
    editIni(p, (text) => text.replace(/^gone = .*\n/m, ''));
    expect(await sighup(p)).toBe('reloaded');
    expect(await loginError(p, 'gone')).toMatch(/no such database: gone/);
    expect(await loginError(p, 'app')).toBeNull();
  });

  it('re-reads auth_file even when pooler.ini is unchanged: the new password logs in, the old one no longer does', async () => {
    const p = await start({ settings: { auth_type: 'md5' }, authFile: { postgres: 'first-secret' } });
    const connected = await connect(p, 'app', 'first-secret');
    expect(await loginError(p, 'app', 'first-secret')).toBeNull();

    writeFileSync(join(p.dir, 'userlist.txt'), '"postgres" "second-secret"\n');
    expect(await sighup(p)).toBe('reloaded');
    expect(await loginError(p, 'app', 'first-secret')).toMatch(/password authentication failed/);
    expect(await loginError(p, 'app', 'second-secret')).toBeNull();
    // a client that logged in before keeps its session
    expect((await connected.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('applies nothing from a broken file, not even its valid lines, and applies the fixed file on the next SIGHUP', async () => {
    const p = await start({ settings: { default_pool_size: 1, query_wait_timeout: 30 } });
    expect(await twoTransactions(p)).toEqual({ secondQueued: true, samePid: true });

    // the valid change comes first in the file, the error after it
    editIni(p, (text) => text.replace('default_pool_size = 1', 'default_pool_size = 2\npool_mode = sesion'));
    expect(await sighup(p)).toBe('failed');
    expect(logText(p)).toMatch(/RELOAD failed.*pooler\.ini:\d+.*pool_mode/);
    expect(p.child.exitCode).toBeNull();
    expect(await twoTransactions(p)).toEqual({ secondQueued: true, samePid: true });

    editIni(p, (text) => text.replace('pool_mode = sesion\n', ''));
    expect(await sighup(p)).toBe('reloaded');
    expect(await twoTransactions(p)).toEqual({ secondQueued: false, samePid: false });
  });

  it('keeps the old configuration when the new one names an auth_file that does not exist', async () => {
    const p = await start({ settings: { auth_type: 'md5' }, authFile: { postgres: 'kept-secret' } });
    editIni(p, (text) => text.replace(/^auth_file = .*$/m, `auth_file = ${join(p.dir, 'missing-userlist.txt')}`));
    expect(await sighup(p)).toBe('failed');
    expect(await loginError(p, 'app', 'kept-secret')).toBeNull();
    expect(p.child.exitCode).toBeNull();
  });

  it('keeps serving when pooler.ini was deleted, and reports the running values', async () => {
    const p = await start({ settings: { admin_users: 'postgres', default_pool_size: 3 } });
    rmSync(ini(p));
    expect(await sighup(p)).toBe('failed');
    expect(await loginError(p)).toBeNull();
    const admin = await connect(p, 'pgbouncer');
    const { rows } = await admin.query('SHOW CONFIG');
    expect(rows.find((r) => r.key === 'default_pool_size')?.value).toBe('3');
  });

  it('leaves settings that need a restart at their running value, as PgBouncer ignores them on reload', async () => {
    const p = await start({ settings: { admin_users: 'postgres', default_pool_size: 1 } });
    const other = p.port === 65535 ? p.port - 1 : p.port + 1;
    editIni(p, (text) => text.replace(`listen_port = ${p.port}`, `listen_port = ${other}`).replace('default_pool_size = 1', 'default_pool_size = 4'));
    expect(await sighup(p)).toBe('reloaded');
    const admin = await connect(p, 'pgbouncer');
    const { rows } = await admin.query('SHOW CONFIG');
    const value = (key: string): unknown => rows.find((r) => r.key === key)?.value;
    // the same reload did apply the reloadable change next to it
    expect(value('default_pool_size')).toBe('4');
    // SHOW CONFIG must tell the port the pooler is really listening on
    expect(value('listen_port')).toBe(String(p.port));
    expect(await loginError(p)).toBeNull();
  });
});

describe('SIGINT', () => {
  it('in transaction mode disconnects a client that asks for a server again, lets the open transaction commit, then exits 0', async () => {
    const p = await start({ settings: { default_pool_size: 2 } });
    const holder = await connect(p);
    const idle = await connect(p);
    await idle.query('SELECT 1'); // it had a server, and released it
    await holder.query('BEGIN');
    await holder.query('CREATE TEMP TABLE sigint_tx (x int) ON COMMIT DROP');

    p.child.kill('SIGINT');
    await sleep(300);
    // PgBouncer 1.23+: a client whose server was released is disconnected on its next query
    // ("server shutting down"); if it got a server, busy clients could hold off the exit for ever
    await expect(idle.query('SELECT 1')).rejects.toThrow(/server shutting down/);
    expect(await loginError(p)).not.toBeNull();

    await holder.query('INSERT INTO sigint_tx VALUES (1)');
    expect((await holder.query('SELECT count(*)::int AS n FROM sigint_tx')).rows[0].n).toBe(1);
    await holder.query('COMMIT');
    expect(await p.exited).toBe(0);
  });

  it('in session mode waits for a session client to disconnect; until then the client keeps its server', async () => {
    const p = await start({ settings: { pool_mode: 'session' } });
    const session = await connect(p);
    const pid = (await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

    p.child.kill('SIGINT');
    await sleep(1000); // three janitor ticks: long enough for a wrong exit to happen
    expect(p.child.exitCode).toBeNull();
    expect(await loginError(p)).not.toBeNull();
    expect((await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(pid);

    await session.end();
    expect(await p.exited).toBe(0);
  });

  it('a second SIGINT exits at once, closing the client that still holds a transaction', async () => {
    const p = await start();
    const holder = await connect(p);
    await holder.query('BEGIN');
    await holder.query('SELECT 1');
    p.child.kill('SIGINT');
    await sleep(500);
    expect(p.child.exitCode).toBeNull();

    const sent = Date.now();
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(3000);
    await expect(holder.query('SELECT 1')).rejects.toThrow();
  });
});

describe('SIGQUIT', () => {
  it('exits at once while a query is running on a server, closing every client', async () => {
    const p = await start({ settings: { default_pool_size: 2 } });
    const busy = await connect(p);
    const idle = await connect(p);
    await idle.query('SELECT 1');
    const sleeping = busy.query('SELECT pg_sleep(30)');
    sleeping.catch(() => undefined);
    await waitUntil(
      () => postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"),
      (out) => out.trim() === '1',
      'the pg_sleep to run on PostgreSQL',
    );

    const sent = Date.now();
    p.child.kill('SIGQUIT');
    expect(await p.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(3000);
    await expect(sleeping).rejects.toThrow();
    await expect(idle.query('SELECT 1')).rejects.toThrow();
    // PostgreSQL only notices the closed socket when pg_sleep returns; do not leave it for 30 s
    await postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'");
  });

  it('during a SIGINT wait, exits at once', async () => {
    const p = await start();
    const holder = await connect(p);
    await holder.query('BEGIN');
    p.child.kill('SIGINT');
    await sleep(500);
    expect(p.child.exitCode).toBeNull();

    const sent = Date.now();
    p.child.kill('SIGQUIT');
    expect(await p.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(3000);
    await expect(holder.query('COMMIT')).rejects.toThrow();
  });
});
