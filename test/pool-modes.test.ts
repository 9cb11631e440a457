// What each pool mode promises a user of node-postgres: session state lives as long as the
// session (session mode), never leaks between clients (transaction mode), transaction blocks are
// refused (statement mode), and a failed transaction leaves nothing behind for the next client.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runPgbench, runTool } from './harness/tools.js';
import { wire } from '../src/testing/wire.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields, RawClient } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  await postgres.createDatabase('modes_many');
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  pooler = await startPooler({
    settings: { auth_type: 'trust', default_pool_size: 1, pool_mode: 'transaction' },
    databases: {
      session_db: `${target} pool_mode=session`,
      tx_db: `${target} pool_mode=transaction`,
      stmt_db: `${target} pool_mode=statement`,
      many_db: `host=${postgres.host} port=${postgres.port} dbname=modes_many pool_mode=transaction pool_size=5`,
    },
    users: { trust_user: 'pool_mode=session' },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

async function connect(database: string, options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pooler.url(database), ...options });
  await client.connect();
  return client;
}

describe('session mode', () => {
  it('keeps a SET across transactions of the same client', async () => {
    const client = await connect('session_db');
    await client.query("SET statement_timeout = '4321ms'");
    await client.query('BEGIN');
    await client.query('COMMIT');
    const { rows } = await client.query('SHOW statement_timeout');
    expect(rows[0].statement_timeout).toBe('4321ms');
    await client.end();
  });

  it('resets the server (DISCARD ALL) before the next client gets it', async () => {
    const first = await connect('session_db');
    await first.query("SET statement_timeout = '777ms'");
    await first.query('PREPARE leftover AS SELECT 1');
    const { rows: pidRows } = await first.query('SELECT pg_backend_pid() AS pid');
    await first.end();
    const second = await connect('session_db');
    const { rows } = await second.query('SELECT pg_backend_pid() AS pid, current_setting($1) AS timeout', ['statement_timeout']);
    expect(rows[0].pid).toBe(pidRows[0].pid);
    expect(rows[0].timeout).toBe('0');
    const prepared = await second.query('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(prepared.rows[0].n).toBe(0);
    await second.end();
  });
});

describe('transaction mode', () => {
  it('does not leak SET LOCAL to the next transaction on the same server', async () => {
    const a = await connect('tx_db');
    const b = await connect('tx_db');
    await a.query('BEGIN');
    await a.query("SET LOCAL statement_timeout = '1234ms'");
    const inside = await a.query('SHOW statement_timeout');
    expect(inside.rows[0].statement_timeout).toBe('1234ms');
    await a.query('COMMIT');
    const { rows } = await b.query('SELECT pg_backend_pid() AS pid, current_setting($1) AS timeout', ['statement_timeout']);
    expect(rows[0].timeout).toBe('0');
    await Promise.all([a.end(), b.end()]);
  });

  it('shares one server between clients and gives each its own session parameters', async () => {
    const utc = await connect('tx_db', { options: '-c TimeZone=UTC' });
    const tokyo = await connect('tx_db', { options: '-c TimeZone=Asia/Tokyo' });
    for (let i = 0; i < 3; i++) {
      const [u, t] = await Promise.all([utc.query('SHOW TimeZone'), tokyo.query('SHOW TimeZone')]);
      expect(u.rows[0].TimeZone).toBe('UTC');
      expect(t.rows[0].TimeZone).toBe('Asia/Tokyo');
    }
    const pids = await Promise.all([utc.query('SELECT pg_backend_pid() AS p'), tokyo.query('SELECT pg_backend_pid() AS p')]);
    expect(pids[0].rows[0].p).toBe(pids[1].rows[0].p);
    await Promise.all([utc.end(), tokyo.end()]);
  });

  it('leaves the server clean after an error mid-transaction', async () => {
    const failing = await connect('tx_db');
    await failing.query('BEGIN');
    await expect(failing.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
    // The client walks away in the failed transaction: the server must not be handed on dirty.
    await failing.end();
    const next = await connect('tx_db');
    const { rows } = await next.query("SELECT 1 AS one, current_setting('transaction_isolation') AS iso");
    expect(rows[0].one).toBe(1);
    await next.query('BEGIN');
    await next.query('COMMIT');
    await next.end();
  });

  it('serves 100 node-postgres clients over 5 server connections without an error', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect('many_db')));
    const results = await Promise.all(
      clients.map(async (client, i) => {
        let sum = 0;
        for (let j = 0; j < 10; j++) {
          const { rows } = await client.query('SELECT $1::int + $2::int AS s', [i, j]);
          sum += rows[0].s;
        }
        await client.query('BEGIN');
        await client.query('SELECT pg_sleep(0.001)');
        await client.query('COMMIT');
        return sum;
      }),
    );
    expect(results).toEqual(clients.map((_, i) => 10 * i + 45));
    const observer = new pg.Client({ connectionString: postgres.url('postgres') });
    await observer.connect();
    const { rows } = await observer.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'modes_many'",
    );
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0].n).toBeLessThanOrEqual(5);
    await observer.end();
    await Promise.all(clients.map((c) => c.end()));
  });
});

describe('statement mode', () => {
  it('runs single statements and refuses a transaction block with a clear error', async () => {
    const client = await connect('stmt_db');
    const { rows } = await client.query('SELECT 42 AS answer');
    expect(rows[0].answer).toBe(42);
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.query('BEGIN').catch((e: Error) => errors.push(e));
    await client.query('SELECT 1').catch((e: Error) => errors.push(e));
    expect(errors.map((e) => e.message).join('\n')).toContain('transaction blocks not allowed in statement pooling mode');
    await client.end().catch(() => undefined);
  });
});

describe.each([
  ['session', 'session_db', 1],
  ['transaction', 'tx_db', 4],
  ['statement', 'stmt_db', 4],
] as const)('%s mode with PostgreSQL\'s own clients', (_mode, database, clients) => {
  it('runs a psql script of several statements', async () => {
    const args = ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', database];
    const result = await runTool('psql', [...args, '-c', 'SELECT 1', '-c', "SELECT 'two'", '-c', 'SELECT current_database()']);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual(['1', 'two', 'pooler_test', '']);
  });

  it.each(['simple', 'extended'])('runs pgbench -M %s over a one-server pool without a failure', async (protocol) => {
    const script = join(pooler.dir, 'select.sql');
    writeFileSync(script, 'SELECT 1;\n');
    const result = await runPgbench(['-n', '-f', script, '-c', String(clients), '-t', '200', '-M', protocol, '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', database]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.stdout).toContain(`number of transactions actually processed: ${clients * 200}/${clients * 200}`);
  });
});

describe('statement mode does not depend on how bytes are chunked', () => {
  /** the replies to BEGIN; SELECT 42; COMMIT sent as three Query messages cut at `cuts` */
  async function transcript(cuts: number[]): Promise<string[]> {
    const client = await RawClient.login(pooler.port, 'stmt_db');
    const queries = Buffer.concat(['BEGIN', 'SELECT 42', 'COMMIT'].map((sql) => wire().cstring(sql).message('Q')));
    await client.sendSplit(queries, cuts).catch(() => undefined);
    const out: string[] = [];
    for (let message = await client.readMessage(); message !== null; message = await client.readMessage()) {
      out.push(message.code === 'E' ? `E ${errorFields(message.body).C} ${errorFields(message.body).M}` : `${message.code} ${message.body.toString('latin1')}`);
    }
    client.close();
    return out;
  }

  it('BEGIN, SELECT 42 and COMMIT end the client the same way in one write, in three, and split at every byte', async () => {
    const expected = ['C BEGIN\0', 'E 0A000 transaction blocks not allowed in statement pooling mode'];
    expect(await transcript([])).toEqual(expected);
    const total = ['BEGIN', 'SELECT 42', 'COMMIT'].reduce((n, sql) => n + 6 + sql.length, 0);
    expect(await transcript([11, 11 + 15])).toEqual(expected);
    for (let cut = 1; cut < total; cut++) expect(await transcript([cut]), `cut at ${cut}`).toEqual(expected);
    // and the pool is fine afterwards
    const client = await connect('stmt_db');
    expect((await client.query('SELECT 42 AS answer')).rows).toEqual([{ answer: 42 }]);
    await client.end();
  });
});

// The statement-mode tests above already show a database's pool_mode beating the global one.
describe('pool_mode precedence: user over database over global', () => {
  it('lets a user with pool_mode=session open a transaction block in a statement-mode database', async () => {
    const client = new pg.Client({ connectionString: pooler.url('stmt_db', 'trust_user') });
    await client.connect();
    await client.query('BEGIN');
    await client.query("SET LOCAL application_name = 'in_a_block'");
    const { rows } = await client.query('SHOW application_name');
    expect(rows[0].application_name).toBe('in_a_block');
    await client.query('COMMIT');
    await client.end();
  });
});
