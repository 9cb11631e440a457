// Drivers that prepare statements, through transaction and statement pooling: node-postgres named
// queries from 50 clients over 5 servers, asyncpg (which prepares everything) and psycopg 3 with
// prepare_threshold=0, pgbench -M prepared in statement mode. None may see "prepared statement
// does not exist", and servers parse each statement about once each.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runPgbench } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { runPython } from './support/python.js';

const postgres = getPostgres();
const DB = 'prepared_drivers';
const POOL_SIZE = 5;
let pooler: PoolerProcess;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  await postgres.psql('CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, $$item $$ || g FROM generate_series(1, 100) g', { database: DB });
  const init = await runPgbench(['-i', '-s', '1', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', DB]);
  expect(init.code, init.stderr).toBe(0);
  const target = `host=${postgres.host} port=${postgres.port} dbname=${DB} pool_size=${POOL_SIZE}`;
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', max_client_conn: 200, admin_users: 'postgres' },
    databases: { [DB]: target, stmt_db: `${target} pool_mode=statement` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

async function stats(database: string): Promise<{ client: number; server: number }> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
  await admin.connect();
  const { rows } = await admin.query('SHOW STATS');
  await admin.end();
  const row = rows.find((r) => r.database === database) ?? {};
  return { client: Number(row.total_client_parse_count ?? 0), server: Number(row.total_server_parse_count ?? 0) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** one node-postgres client: named queries, some inside a transaction, with pauses so servers change hands */
async function namedQueryClient(database: string, id: number, transactions: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: pooler.url(database) });
  await client.connect();
  try {
    for (let round = 0; round < 10; round++) {
      const key = ((id + round) % 100) + 1;
      const { rows } = await client.query({ name: 'item_by_id', text: 'SELECT id, label FROM items WHERE id = $1', values: [key] });
      expect(rows).toEqual([{ id: key, label: `item ${key}` }]);
      const count = await client.query({ name: 'count_below', text: 'SELECT count(*)::int AS n FROM items WHERE id < $1', values: [key] });
      expect(count.rows[0].n).toBe(key - 1);
      if (transactions) {
        await client.query('BEGIN');
        const inside = await client.query({ name: 'item_by_id', text: 'SELECT id, label FROM items WHERE id = $1', values: [key] });
        expect(inside.rows[0].id).toBe(key);
        await client.query('COMMIT');
      }
      await sleep(Math.random() * 5);
    }
  } finally {
    await client.end();
  }
}

describe('node-postgres named queries', () => {
  it('50 clients over 5 servers in transaction mode: every result right, each server parses each statement at most once', async () => {
    const before = await stats(DB);
    await Promise.all(Array.from({ length: 50 }, (_, id) => namedQueryClient(DB, id, true)));
    const after = await stats(DB);
    expect(after.client - before.client).toBe(50 * 2);
    expect(after.server - before.server).toBeGreaterThanOrEqual(2);
    expect(after.server - before.server).toBeLessThanOrEqual(POOL_SIZE * 2);
  });

  it('in statement mode too', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, id) => namedQueryClient('stmt_db', id, false)));
  });

  it('pgbench -M prepared -S in statement mode has no failed transaction', async () => {
    const result = await runPgbench(['-h', '127.0.0.1', '-p', String(pooler.port), '-c', '20', '-j', '2', '-T', '2', '-M', 'prepared', '-S', '-U', 'postgres', 'stmt_db']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.failed).toBe(0);
    expect(result.tps).toBeGreaterThan(0);
  });

  it('after RECONNECT, a statement prepared before is prepared again on the new servers', async () => {
    const client = new pg.Client({ connectionString: pooler.url(DB) });
    await client.connect();
    const query = { name: 'before_reconnect', text: 'SELECT $1::int + 1 AS v', values: [1] };
    expect((await client.query(query)).rows[0].v).toBe(2);
    const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
    await admin.connect();
    await admin.query(`RECONNECT ${DB}`);
    await admin.end();
    for (let i = 0; i < 3; i++) expect((await client.query({ ...query, values: [i] })).rows[0].v).toBe(i + 1);
    await client.end();
  });
});

const ASYNCPG = `
import asyncio, os, asyncpg

async def worker(i):
    conn = await asyncpg.connect(os.environ['DSN'])
    for n in range(15):
        assert await conn.fetchval('SELECT $1::int * 2', n) == n * 2
        rows = await conn.fetch('SELECT id, label FROM items WHERE id = $1', n + 1)
        assert rows[0]['label'] == 'item %d' % (n + 1)
        async with conn.transaction():
            assert await conn.fetchval('SELECT count(*) FROM items WHERE id <= $1', n) == n
    stmt = await conn.prepare('SELECT $1::text || $2::text')
    assert await stmt.fetchval('a', str(i)) == 'a%d' % i
    await conn.close()

async def main():
    await asyncio.gather(*(worker(i) for i in range(20)))
    print('asyncpg ok')

asyncio.run(main())
`;

const PSYCOPG = `
import os, threading, psycopg

errors = []

def worker(i):
    try:
        with psycopg.connect(os.environ['DSN'], prepare_threshold=0, autocommit=True) as conn:
            for n in range(15):
                assert conn.execute('SELECT %s::int * 2', (n,)).fetchone()[0] == n * 2
                assert conn.execute('SELECT label FROM items WHERE id = %s', (n + 1,)).fetchone()[0] == 'item %d' % (n + 1)
                with conn.transaction():
                    assert conn.execute('SELECT count(*) FROM items WHERE id <= %s', (n,)).fetchone()[0] == n
    except Exception as e:
        errors.append(repr(e))

threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    raise SystemExit('\\n'.join(errors))
print('psycopg ok')
`;

describe('Python drivers through transaction mode', () => {
  it.each([
    ['asyncpg', ASYNCPG],
    ['psycopg 3 (prepare_threshold=0)', PSYCOPG],
  ])('%s: 20 concurrent connections over 5 servers, all statements prepared', async (name, script) => {
    const before = await stats(DB);
    const result = await runPython(script, pooler.url(DB));
    expect(result.stderr).not.toMatch(/does not exist/);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${name.split(' ')[0]} ok`);
    const after = await stats(DB);
    expect(after.client - before.client).toBeGreaterThanOrEqual(20 * 3);
    expect(after.server - before.server).toBeLessThan(after.client - before.client);
  });
});
