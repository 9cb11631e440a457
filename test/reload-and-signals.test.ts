// Signals as PgBouncer 1.23+ reads them (SIGTERM is in cli.test.ts): SIGHUP reloads pooler.ini
// and keeps the old settings when the new file is broken, SIGINT lets open transactions finish and
// then exits, SIGQUIT exits at once.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
let pooler: PoolerProcess | undefined;

afterEach(async () => {
  await pooler?.stop();
  pooler = undefined;
});

async function start(settings: Record<string, string | number> = {}, options = ''): Promise<PoolerProcess> {
  const app = options === '' ? target : `${target} ${options}`;
  pooler = await startPooler({ settings: { auth_type: 'trust', pool_mode: 'transaction', ...settings }, databases: { app } });
  return pooler;
}

async function connect(through: PoolerProcess, database = 'app'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: through.url(database) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** answers whether a fresh client can log in and run a query right now */
async function canQuery(through: PoolerProcess, database = 'app'): Promise<boolean> {
  try {
    const client = await connect(through, database);
    await client.query('SELECT 1');
    await client.end();
    return true;
  } catch {
    return false;
  }
}

describe('SIGHUP', () => {
  it('reloads pooler.ini: a new database and a bigger pool take effect without a restart', async () => {
    const p = await start({ default_pool_size: 1, query_wait_timeout: 30 });
    const ini = join(p.dir, 'pooler.ini');
    expect(await canQuery(p, 'added')).toBe(false);

    writeFileSync(ini, readFileSync(ini, 'utf8').replace('default_pool_size = 1', 'default_pool_size = 2'));
    appendFileSync(ini, `added = ${target}\n`);
    p.child.kill('SIGHUP');
    await waitUntil(() => canQuery(p, 'added'), (ok) => ok, 'the added database to accept clients');

    // with pool size 2, a second open transaction gets its own server instead of queueing
    const first = await connect(p);
    const second = await connect(p);
    await first.query('BEGIN');
    await second.query('BEGIN');
    const pids = await Promise.all([first, second].map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
    expect(new Set(pids).size).toBe(2);
    await Promise.all([first, second].map((c) => c.query('COMMIT').then(() => c.end())));
  });

  it('keeps serving with the old configuration when the new file is broken, and logs why', async () => {
    const p = await start();
    appendFileSync(join(p.dir, 'pooler.ini'), 'this line is not a setting\n');
    p.child.kill('SIGHUP');
    await waitUntil(async () => (existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : ''), (log) => log.includes('RELOAD failed'), 'the reload error in the log');
    expect(readFileSync(p.logFile, 'utf8')).toMatch(/RELOAD failed.*pooler\.ini:\d+/);
    expect(await canQuery(p)).toBe(true);
    expect(p.child.exitCode).toBeNull();
  });
});

/** RELOAD from the console, as an operator would after editing pooler.ini */
async function reloadFromConsole(through: PoolerProcess, edit: (ini: string) => string): Promise<void> {
  const ini = join(through.dir, 'pooler.ini');
  const before = readFileSync(ini, 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  writeFileSync(ini, after);
  const admin = await connect(through, 'pgbouncer');
  await admin.query('RELOAD');
  await admin.end();
}

async function value(client: pg.Client, sql: string): Promise<string> {
  return (await client.query<{ value: string }>(`${sql} AS value`)).rows[0]!.value;
}

// Issue 17: RELOAD compared fewer fields than diffConfig does, so servers made with the old
// connect_query or startup parameters stayed in the pool.
describe('RELOAD of a changed database entry (issue 17)', () => {
  const settings = { admin_users: 'postgres', default_pool_size: 2, query_wait_timeout: 30, verbose: 1 };

  it('connect_query: the next transaction of every client runs on a server made with the new one', async () => {
    const p = await start(settings, "connect_query='SET pooler_test.tag TO a'");
    const idle = await connect(p);
    const busy = await connect(p);
    // two old servers: one stays with `busy` in its transaction, the other goes back idle
    await busy.query('BEGIN');
    expect(await value(busy, "SELECT current_setting('pooler_test.tag')")).toBe('a');
    expect(await value(idle, "SELECT current_setting('pooler_test.tag')")).toBe('a');

    // the reload comes while `busy` is in a transaction on an old server
    await reloadFromConsole(p, (text) => text.replace('TO a', 'TO b'));
    expect(await value(idle, "SELECT current_setting('pooler_test.tag')")).toBe('b');
    // the open transaction keeps its server to the end
    expect(await value(busy, "SELECT current_setting('pooler_test.tag')")).toBe('a');
    await busy.query('COMMIT');
    const fresh = await connect(p);
    for (const client of [busy, idle, fresh]) expect(await value(client, "SELECT current_setting('pooler_test.tag')")).toBe('b');
    await Promise.all([idle, busy, fresh].map((c) => c.end()));
    // and the log says why the old servers went
    expect(readFileSync(p.logFile, 'utf8')).toMatch(/"reason":"config_changed"/);
  });

  const TIMEZONE = "SELECT current_setting('TimeZone')";

  it('startup parameters: clients that log in after the reload get servers started with the new ones', async () => {
    const p = await start(settings, 'timezone=UTC');
    const busy = await connect(p);
    const before = await connect(p);
    await busy.query('BEGIN');
    await busy.query('SELECT 1');
    expect(await value(before, TIMEZONE)).toBe('UTC');

    await reloadFromConsole(p, (text) => text.replace('timezone=UTC', 'timezone=Asia/Tokyo'));
    const after = await connect(p);
    expect(await value(after, TIMEZONE)).toBe('Asia/Tokyo');
    // a client from before keeps the session it was given, as its parameters are replayed on any server
    expect(await value(before, TIMEZONE)).toBe('UTC');
    await busy.query('COMMIT');
    await Promise.all([busy, before, after].map((c) => c.end()));
  });
});

describe('SIGINT', () => {
  it('refuses new clients, lets an open transaction commit, then exits 0 once its server is released', async () => {
    const p = await start();
    const client = await connect(p);
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE sigint_check (x int)');
    p.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(await canQuery(p)).toBe(false);
    await client.query('INSERT INTO sigint_check VALUES (1)');
    await client.query('COMMIT');
    expect(await p.exited).toBe(0);
  });
});

describe('SIGQUIT', () => {
  it('exits at once, closing connected clients', async () => {
    const p = await start();
    const client = await connect(p);
    await client.query('BEGIN');
    p.child.kill('SIGQUIT');
    expect(await p.exited).toBe(0);
    await expect(client.query('SELECT 1')).rejects.toThrow();
  });
});
