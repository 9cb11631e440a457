// Acceptance tests for session state in transaction mode: SET/RESET, startup parameters, temp tables,
// LISTEN, advisory locks, PREPARE, WITH HOLD, SET ROLE, re-prepare on 0A000, silent bad startup; each
// scenario runs against PostgreSQL direct and through pooler (pool of 4, 6 busy clients) and must agree.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { runPython } from './support/python.js';

const postgres = getPostgres();
const DB = 'session_state';
const POOL_SIZE = 4;
const TARGETS = ['direct', 'pooler'] as const;
type Target = (typeof TARGETS)[number];
const DEFAULT_PATH = '"$user", public';
const poolerSettings = { auth_type: 'trust', pool_mode: 'transaction', max_client_conn: 300, admin_users: 'postgres' };
const poolerTarget = () => `host=${postgres.host} port=${postgres.port} dbname=${DB} pool_size=${POOL_SIZE}`;
let pooler: PoolerProcess;
let background: Background;
let nextKey = 7000;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  await postgres.psql('GRANT ALL ON SCHEMA public TO PUBLIC; CREATE SCHEMA foo; CREATE SCHEMA leak_schema', { database: DB });
  pooler = await startPooler({ settings: poolerSettings, databases: { [DB]: poolerTarget() } });
  background = await startBackground(pooler.url(DB), 6);
});

afterAll(async () => {
  await background?.stop();
  await pooler?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const urlFor = (target: Target) => (target === 'direct' ? postgres.url(DB) : pooler.url(DB));

/** registers the scenario once against PostgreSQL direct and once through pooler */
function both(name: string, scenario: (url: string, target: Target) => Promise<void>, timeout = 30_000): void {
  for (const target of TARGETS) it(`${name} [${target}]`, () => scenario(urlFor(target), target), timeout);
}

interface Background {
  queries: number;
  errors: unknown[];
  stop(): Promise<void>;
}

/** `count` clients looping `select pg_sleep(0.001)` on the pool until stopped */
async function startBackground(url: string, count: number): Promise<Background> {
  const state: Background & { stopping: boolean } = { queries: 0, errors: [], stopping: false, stop: async () => undefined };
  const loops = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = await connect(url);
      // wrapped in an object: an async function returning the loop's promise would wait for it
      const done = (async () => {
        try {
          while (!state.stopping) await client.query('select pg_sleep(0.001)').then(() => state.queries++);
        } catch (error) {
          state.errors.push(error); // this client is done: a dead connection would fail at once, forever
        }
        await client.end().catch(() => undefined);
      })();
      return { done };
    }),
  );
  state.stop = async () => {
    state.stopping = true;
    await Promise.all(loops.map((l) => l.done));
  };
  return state;
}

async function connect(url: string, config: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, ...config });
  client.on('error', () => undefined); // a lost connection fails the next query instead of the process
  await client.connect();
  return client;
}

async function row(client: pg.Client, text: string, values: unknown[] = []): Promise<Record<string, unknown>> {
  return (await client.query(text, values)).rows[0];
}

/** one psql session running each command as its own -c; returns the output lines */
async function psql(url: string, commands: string[], env: Record<string, string> = {}): Promise<string[]> {
  const result = await runTool('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...commands.flatMap((c) => ['-c', c])], env);
  if (result.code !== 0) throw new Error(`psql failed: ${result.stderr}`);
  return result.stdout.split('\n').slice(0, -1);
}

/** runs a Python script that prints one JSON value last */
async function python(script: string, url: string, env: Record<string, string> = {}): Promise<unknown> {
  const result = await runPython(script, url, env);
  if (result.code !== 0) throw new Error(`python failed: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

/** resolves with the first notification on `channel`, or null after `ms` */
function nextNotification(client: pg.Client, channel: string, ms = 5000): Promise<pg.Notification | null> {
  return new Promise((resolve) => {
    const onNotify = (n: pg.Notification) => n.channel === channel && done(n);
    const timer = setTimeout(() => done(null), ms);
    const done = (n: pg.Notification | null) => {
      clearTimeout(timer);
      client.off('notification', onNotify);
      resolve(n);
    };
    client.on('notification', onNotify);
  });
}

describe('startup', () => {
  both('a Terminate where the startup packet belongs: socket closed, nothing written back', async (url) => {
    const { hostname, port } = new URL(url);
    const received = await new Promise<number | string>((resolve) => {
      let bytes = 0;
      const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(Buffer.from([0x58, 0, 0, 0, 4])));
      socket.on('data', (d) => (bytes += d.length));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(bytes));
      setTimeout(() => (socket.destroy(), resolve('still open after 5 s')), 5000);
    });
    expect(received).toBe(0);
  });

  both('node-postgres connect() then end() at once throws nothing', async (url) => {
    const client = new pg.Client({ connectionString: url });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const connecting = client.connect().then(() => 'connected', (e: Error) => `rejected: ${e.message}`);
    await client.end();
    const outcome = await Promise.race([connecting, sleep(1000).then(() => 'pending')]);
    expect(outcome).toMatch(/^(pending|connected)$/);
    expect(errors).toEqual([]);
  });
});

describe('sharing', () => {
  /** the most client backends PostgreSQL had for DB at once while `work` ran */
  async function peakBackends(work: () => Promise<void>): Promise<number> {
    const watcher = await connect(postgres.url(DB));
    let peak = 0;
    let running = true;
    const watching = (async () => {
      while (running) {
        const { n } = await row(watcher, "select count(*)::int n from pg_stat_activity where datname = $1 and usename = 'postgres' and backend_type = 'client backend' and pid <> pg_backend_pid()", [DB]);
        peak = Math.max(peak, n as number);
        await sleep(10);
      }
    })();
    try {
      await work();
    } finally {
      running = false;
      await watching;
      await watcher.end();
    }
    return peak;
  }

  both('50 clients that use no session state, 20 statements each, share the pool of 4', async (url, target) => {
    let done = 0;
    const peak = await peakBackends(async () => {
      await Promise.all(
        Array.from({ length: 50 }, async (_, id) => {
          const client = await connect(url);
          for (let i = 0; i < 20; i++) expect((await row(client, 'select $1::int + 1 as n', [id * 100 + i])).n).toBe(id * 100 + i + 1);
          await client.end();
          done++;
        }),
      );
    });
    expect(done).toBe(50);
    if (target === 'pooler') expect(peak).toBeLessThanOrEqual(POOL_SIZE);
    else expect(peak).toBeGreaterThan(POOL_SIZE); // proves the watcher sees backends
  });
});

describe('cached plan must not change result type (0A000)', () => {
  type Query = { name: string; text: string };
  const retype = (table: string, type: string, value: string) =>
    postgres.psql(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (a ${type}); INSERT INTO ${table} VALUES (${value})`, { database: DB });

  /** every server of the pool prepares the statement: 12 clients hold transactions at once */
  async function prepareEverywhere(url: string, query: Query, rows: unknown[]): Promise<void> {
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        const client = await connect(url);
        for (let i = 0; i < 2; i++) {
          await client.query('BEGIN');
          expect((await client.query(query)).rows).toEqual(rows);
          await client.query('select pg_sleep(0.02)');
          await client.query('COMMIT');
        }
        await client.end();
      }),
    );
  }

  both('outside a block, new clients’ named statement succeeds after the column type changed', async (url, target) => {
    const query = { name: 'tt_all', text: `select * from tt_out_${target}` };
    await retype(`tt_out_${target}`, 'int', '1');
    await prepareEverywhere(url, query, [{ a: 1 }]);
    await retype(`tt_out_${target}`, 'text', "'x'");
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const client = await connect(url);
        const rows = await client.query(query).then((r) => r.rows, (e: Error) => e.message);
        await client.end();
        return rows;
      }),
    );
    expect(outcomes).toEqual(Array(8).fill([{ a: 'x' }]));
  });

  both('inside a block, the client that prepared it gets PostgreSQL’s 0A000', async (url, target) => {
    const query = { name: 'tt_all', text: `select * from tt_in_${target}` };
    await retype(`tt_in_${target}`, 'int', '1');
    const owner = await connect(url);
    expect((await owner.query(query)).rows).toEqual([{ a: 1 }]);
    await prepareEverywhere(url, query, [{ a: 1 }]);
    await retype(`tt_in_${target}`, 'text', "'x'");
    await owner.query('BEGIN');
    const failed = await owner.query(query).then(() => null, (e: { code?: string; message: string }) => e);
    expect({ code: failed?.code, message: failed?.message }).toEqual({ code: '0A000', message: 'cached plan must not change result type' });
    await owner.query('ROLLBACK');
    await owner.end();
  });
});

describe('startup parameters follow the client', () => {
  both('node-postgres statement_timeout, idle_in_transaction_session_timeout, options=-c search_path', async (url) => {
    const client = await connect(url, { statement_timeout: 4321, idle_in_transaction_session_timeout: 6543, options: '-c search_path=foo' });
    for (let i = 0; i < 5; i++) {
      await sleep(5);
      const settings = await row(client, "select current_setting('statement_timeout') st, current_setting('idle_in_transaction_session_timeout') idle, current_setting('search_path') sp");
      expect(settings).toEqual({ st: '4321ms', idle: '6543ms', sp: 'foo' });
    }
    await client.end();
  });

  both('psycopg 3 options=-c … and application_name', async (url) => {
    const script = `
import json, os, time, psycopg
conn = psycopg.connect(os.environ['DSN'], autocommit=True, options='-c search_path=foo -c myapp.x=psy -c statement_timeout=2222', application_name='psy_app')
seen = []
for i in range(5):
    time.sleep(0.005)
    seen.append(list(conn.execute("select current_setting('search_path'), current_setting('myapp.x'), current_setting('statement_timeout'), current_setting('application_name')").fetchone()))
print(json.dumps(seen))
`;
    expect(await python(script, url)).toEqual(Array(5).fill(['foo', 'psy', '2222ms', 'psy_app']));
  });

  both('asyncpg server_settings', async (url) => {
    const script = `
import asyncio, json, os, asyncpg
async def main():
    conn = await asyncpg.connect(os.environ['DSN'], server_settings={'search_path': 'foo', 'statement_timeout': '5432', 'myapp.x': 'apg', 'application_name': 'apg_app'})
    seen = []
    for i in range(5):
        await asyncio.sleep(0.005)
        seen.append(list(await conn.fetchrow("select current_setting('search_path'), current_setting('statement_timeout'), current_setting('myapp.x'), current_setting('application_name')")))
    await conn.close()
    print(json.dumps(seen))
asyncio.run(main())
`;
    expect(await python(script, url)).toEqual(Array(5).fill(['foo', '5432ms', 'apg', 'apg_app']));
  });

  both('psql with PGOPTIONS=-c search_path=… -c statement_timeout=…', async (url) => {
    const commands = ['SHOW search_path', 'SHOW statement_timeout', 'select pg_sleep(0.01)', 'SHOW search_path', 'SHOW statement_timeout'];
    const lines = await psql(url, commands, { PGOPTIONS: '-c search_path=foo -c statement_timeout=2500' });
    expect(lines).toEqual(['foo', '2500ms', '', 'foo', '2500ms']);
  });
});

describe('SET, RESET and set_config follow the client', () => {
  both('200 custom settings of 10 kB each (2 MB replayed as one SET batch), set in one pipeline, follow the client to every server', async (url) => {
    const client = await connect(url);
    const value = (i: number) => `${i}:`.padEnd(10_000, 'x');
    // node-postgres sends queries queued at once back to back: the SETs arrive as one pipeline
    await Promise.all(Array.from({ length: 200 }, (_, i) => client.query(`SET myapp.big_${i} = '${value(i)}'`)));
    for (let round = 0; round < 10; round++) {
      await sleep(2);
      const i = (round * 37) % 200;
      const { rows } = await client.query(`select current_setting('myapp.big_${i}') v, current_setting('myapp.big_199') last`);
      expect(rows).toEqual([{ v: value(i), last: value(199) }]);
    }
    await client.end();
  }, 60_000);

  both('node-postgres SET of several parameters, SHOW in later statements; a rolled-back SET is undone', async (url) => {
    const client = await connect(url);
    for (const set of ['SET search_path = foo, public', 'SET statement_timeout = 1234', "SET application_name = 'session_app'", "SET myapp.x = 'hello'"]) await client.query(set);
    await client.query('BEGIN');
    await client.query("SET myapp.x = 'rolled back'");
    await client.query('ROLLBACK');
    for (let i = 0; i < 5; i++) {
      await sleep(5);
      const settings = await row(client, "select current_setting('search_path') sp, current_setting('statement_timeout') st, current_setting('application_name') app, current_setting('myapp.x') x");
      expect(settings).toEqual({ sp: 'foo, public', st: '1234ms', app: 'session_app', x: 'hello' });
      expect((await client.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '1234ms' }]);
    }
    await client.end();
  });

  both('psql RESET one parameter and RESET ALL', async (url) => {
    const custom = "select coalesce(current_setting('myapp.x', true), '')";
    const lines = await psql(url, [
      'SET statement_timeout = 1234', 'SET search_path = foo', "SET myapp.x = 'a'",
      'SHOW statement_timeout', 'RESET statement_timeout', 'SHOW statement_timeout', 'SHOW search_path', custom,
      'RESET ALL', 'SHOW search_path', custom, 'SHOW statement_timeout',
      "SET myapp.x = 'b'", custom, 'RESET myapp.x', custom,
    ]);
    expect(lines).toEqual(['1234ms', '0', 'foo', 'a', DEFAULT_PATH, '', '0', 'b', '']);
  });

  both('psycopg 3 set_config(…, false) stays, set_config(…, true) ends with its transaction', async (url) => {
    const script = `
import json, os, time, psycopg
conn = psycopg.connect(os.environ['DSN'], autocommit=True)
show = lambda: list(conn.execute("select current_setting('myapp.x'), current_setting('statement_timeout'), current_setting('search_path')").fetchone())
conn.execute("select set_config('myapp.x', 'v1', false)")
conn.execute("select set_config('statement_timeout', '2345', false)")
out = {'later': []}
for i in range(6):
    time.sleep(0.005)
    out['later'].append(show())
with conn.transaction():
    conn.execute("select set_config('statement_timeout', '3456', true)")
    out['inside'] = show()
out['after'] = show()
conn.execute("select set_config('search_path', 'foo', true)")
out['after_autocommit_local'] = show()
print(json.dumps(out))
`;
    expect(await python(script, url)).toEqual({
      later: Array(6).fill(['v1', '2345ms', DEFAULT_PATH]),
      inside: ['v1', '3456ms', DEFAULT_PATH],
      after: ['v1', '2345ms', DEFAULT_PATH],
      after_autocommit_local: ['v1', '2345ms', DEFAULT_PATH],
    });
  });

  both('asyncpg SET LOCAL stays inside its transaction', async (url) => {
    const script = `
import asyncio, json, os, asyncpg
async def main():
    conn = await asyncpg.connect(os.environ['DSN'])
    show = lambda: conn.fetchrow("select current_setting('search_path'), current_setting('statement_timeout')")
    await conn.execute('SET statement_timeout = 1000')
    async with conn.transaction():
        await conn.execute('SET LOCAL search_path = foo')
        await conn.execute('SET LOCAL statement_timeout = 777')
        inside = list(await show())
    after = []
    for i in range(5):
        await asyncio.sleep(0.005)
        after.append(list(await show()))
    await conn.close()
    print(json.dumps({'inside': inside, 'after': after}))
asyncio.run(main())
`;
    expect(await python(script, url)).toEqual({ inside: ['foo', '777ms'], after: Array(5).fill([DEFAULT_PATH, '1s']) });
  });
});

describe('state that pins the client to its server', () => {
  both('psycopg 3 temp table across many statements, gone after DISCARD ALL', async (url) => {
    const script = `
import json, os, time, psycopg
conn = psycopg.connect(os.environ['DSN'], autocommit=True)
conn.execute('CREATE TEMP TABLE t (id int, v text)')
for i in range(20):
    time.sleep(0.002)
    conn.execute('INSERT INTO t VALUES (%s, %s)', (i, 'v%d' % i))
out = {'counts': [list(conn.execute('SELECT count(*), sum(id) FROM t').fetchone()) for i in range(3)]}
out['last'] = conn.execute('SELECT v FROM t ORDER BY id DESC LIMIT 1').fetchone()[0]
conn.execute('DISCARD ALL')
out['after_discard'] = conn.execute("SELECT to_regclass('pg_temp.t')::text").fetchone()[0]
conn.execute('CREATE TEMP TABLE t (x int)')
conn.execute('DISCARD ALL')
out['again'] = conn.execute('SELECT 1').fetchone()[0]
print(json.dumps(out))
`;
    expect(await python(script, url)).toEqual({ counts: Array(3).fill([20, 190]), last: 'v19', after_discard: null, again: 1 });
  });

  both('node-postgres LISTEN: NOTIFY from another client arrives within 5 s while the listener is idle', async (url, target) => {
    const channel = `chan_${target}`;
    const listener = await connect(url);
    const notifier = await connect(url);
    await listener.query(`LISTEN ${channel}`);
    await sleep(20);
    const first = nextNotification(listener, channel);
    await notifier.query(`NOTIFY ${channel}, 'one'`);
    expect((await first)?.payload).toBe('one');
    await listener.query('select pg_sleep(0.01)');
    await sleep(20);
    const second = nextNotification(listener, channel);
    await notifier.query('select pg_notify($1, $2)', [channel, 'two']);
    expect((await second)?.payload).toBe('two');
    await listener.query(`UNLISTEN ${channel}`);
    const third = nextNotification(listener, channel, 300);
    await notifier.query(`NOTIFY ${channel}, 'three'`);
    expect(await third).toBeNull();
    await listener.end();
    await notifier.end();
  });

  both('asyncpg advisory lock: held by the backend of the client’s later statements, unlock returns true', async (url) => {
    const script = `
import asyncio, json, os, asyncpg
async def main():
    key = int(os.environ['KEY'])
    conn = await asyncpg.connect(os.environ['DSN'])
    other = await asyncpg.connect(os.environ['DSN'])
    holder = "select pid from pg_locks where locktype = 'advisory' and objid::text::bigint = $1"
    await conn.execute('select pg_advisory_lock(%d)' % key)
    same = []
    for i in range(5):
        await asyncio.sleep(0.005)
        same.append(await conn.fetchval(holder, key) == await conn.fetchval('select pg_backend_pid()'))
    out = {'same': same, 'other_can_take': await other.fetchval('select pg_try_advisory_xact_lock($1::bigint)', key)}
    out['unlock'] = await conn.fetchval('select pg_advisory_unlock($1::bigint)', key)
    out['held_after'] = await conn.fetchval("select count(*) from pg_locks where locktype = 'advisory' and objid::text::bigint = $1", key)
    await conn.close()
    await other.close()
    print(json.dumps(out))
asyncio.run(main())
`;
    expect(await python(script, url, { KEY: String(nextKey++) })).toEqual({ same: Array(5).fill(true), other_can_take: false, unlock: true, held_after: 0 });
  });

  both('psql PREPARE / EXECUTE / DEALLOCATE', async (url) => {
    const count = "select count(*) from pg_prepared_statements where name in ('p', 'q')";
    const lines = await psql(url, [
      'PREPARE p(int) AS SELECT $1 * 2', 'select 1', 'EXECUTE p(21)', 'EXECUTE p(5)', count,
      'DEALLOCATE p', count, "PREPARE q AS SELECT 'q'", 'EXECUTE q', 'DEALLOCATE ALL', count,
    ]);
    expect(lines).toEqual(['1', '42', '10', '1', '0', 'q', '0']);
  });

  both('psycopg 3 DECLARE … WITH HOLD, COMMIT, FETCH in later statements', async (url) => {
    const script = `
import json, os, time, psycopg
conn = psycopg.connect(os.environ['DSN'], autocommit=True)
with conn.transaction():
    conn.execute('DECLARE c CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 10) g')
fetched = []
for i in range(5):
    time.sleep(0.005)
    fetched.append([r[0] for r in conn.execute('FETCH 2 FROM c').fetchall()])
conn.execute('CLOSE c')
print(json.dumps({'fetched': fetched, 'open': conn.execute('select count(*) from pg_cursors').fetchone()[0]}))
`;
    expect(await python(script, url)).toEqual({ fetched: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], open: 0 });
  });

  both('node-postgres SET ROLE and SET SESSION AUTHORIZATION, current_user in later statements', async (url) => {
    const client = await connect(url);
    const who = () => row(client, 'select current_user::text cu, session_user::text su');
    await client.query('SET ROLE trust_user');
    for (let i = 0; i < 4; i++) expect((await sleep(5), await who())).toEqual({ cu: 'trust_user', su: 'postgres' });
    await client.query('RESET ROLE');
    expect(await who()).toEqual({ cu: 'postgres', su: 'postgres' });
    await client.query('SET SESSION AUTHORIZATION trust_user');
    for (let i = 0; i < 4; i++) expect((await sleep(5), await who())).toEqual({ cu: 'trust_user', su: 'trust_user' });
    await client.query('RESET SESSION AUTHORIZATION');
    expect(await who()).toEqual({ cu: 'postgres', su: 'postgres' });
    await client.end();
  });
});

describe('no leakage to other clients', () => {
  const STATE = `select current_setting('search_path') sp, current_setting('statement_timeout') st, to_regclass('pg_temp.person') is not null person,
    (select count(*)::int from pg_listening_channels()) channels,
    (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) locks, current_user::text cu`;
  const CLEAN = { sp: DEFAULT_PATH, st: '0', person: false, channels: 0, locks: 0, cu: 'postgres' };
  const DIRTY = { sp: 'leak_schema', st: '1111ms', person: true, channels: 1, locks: 1, cu: 'trust_user' };

  async function dirtyClient(url: string, key: number): Promise<pg.Client> {
    const client = await connect(url);
    for (const sql of ['SET search_path = leak_schema', 'SET statement_timeout = 1111', 'CREATE TEMP TABLE person (id int)', 'LISTEN leak_chan', `select pg_advisory_lock(${key})`, 'SET ROLE trust_user']) await client.query(sql);
    return client;
  }

  both('20 clients never see a connected client’s search_path, temp table, LISTEN, lock or role between its transactions', async (url) => {
    const dirty = await dirtyClient(url, nextKey++);
    let checking = true;
    const own = (async () => {
      while (checking) expect((await sleep(3), await row(dirty, STATE))).toEqual(DIRTY);
    })().catch((e: unknown) => e);
    const others = Promise.all(
      Array.from({ length: 20 }, async () => {
        const client = await connect(url);
        for (let i = 0; i < 5; i++) expect((await sleep(Math.random() * 5), await row(client, STATE))).toEqual(CLEAN);
        await client.end();
      }),
    ).finally(() => (checking = false));
    const [othersFailed, ownFailed] = [await others.then(() => undefined, (e: unknown) => e), await own];
    await dirty.end();
    expect({ others: othersFailed, own: ownFailed }).toEqual({ others: undefined, own: undefined });
  });

  both('after a pinned client disconnects, the next clients get a clean server', async (url) => {
    const key = nextKey++;
    const dirty = await dirtyClient(url, key);
    expect(await row(dirty, STATE)).toEqual(DIRTY);
    await dirty.end();
    const held = async () => Number(await postgres.psql(`select count(*) from pg_locks where locktype = 'advisory' and objid = ${key}`, { database: DB }));
    for (let i = 0; i < 30 && (await held()) > 0; i++) await sleep(100); // a direct backend exits a moment after Terminate
    for (let wave = 0; wave < 5; wave++) {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const client = await connect(url);
          expect(await row(client, STATE)).toEqual(CLEAN);
          expect(await row(client, `select count(*)::int held from pg_locks where locktype = 'advisory' and objid = ${key}`)).toEqual({ held: 0 });
          await client.query('CREATE TEMP TABLE person (id int)');
          await client.end();
        }),
      );
    }
  });
});

describe('pooler only', () => {
  it('SHOW CLIENTS has pinned and pin_reason: a LISTEN client is pinned for listen, a SET-only client is not', async () => {
    const truthy = (v: unknown) => [true, 1, '1', 't', 'true', 'yes'].includes(v as never);
    const listener = await connect(pooler.url(DB), { application_name: 'pin_listen' });
    const setter = await connect(pooler.url(DB), { application_name: 'pin_set' });
    await listener.query('LISTEN pin_chan');
    await setter.query("SET myapp.x = 'only set'");
    const admin = await connect(pooler.url('pgbouncer'));
    const { rows, fields } = await admin.query('SHOW CLIENTS');
    await Promise.all([admin.end(), listener.end(), setter.end()]);
    expect(fields.map((f) => f.name)).toEqual(expect.arrayContaining(['pinned', 'pin_reason']));
    const listening = rows.find((r) => r.application_name === 'pin_listen');
    const setting = rows.find((r) => r.application_name === 'pin_set');
    expect({ pinned: truthy(listening?.pinned), reason: String(listening?.pin_reason) }).toMatchObject({ pinned: true, reason: expect.stringMatching(/listen/i) });
    expect(truthy(setting?.pinned)).toBe(false);
  });

  it('the 6 background clients saw no errors the whole time', () => {
    expect(background.queries).toBeGreaterThan(100);
    expect(background.errors.map(String)).toEqual([]);
  });
});

/** a second pooler on DB with `session_state = mode` for the enclosing describe block */
function poolerWithSessionState(mode: string): () => PoolerProcess {
  let other: PoolerProcess;
  beforeAll(async () => {
    other = await startPooler({ settings: { ...poolerSettings, session_state: mode }, databases: { [DB]: poolerTarget() } });
  });
  afterAll(async () => {
    await other?.stop();
  });
  return () => other;
}

describe('session_state = error', () => {
  const strict = poolerWithSessionState('error');

  it('statements that would pin get 0A000 naming the statement, and the client goes on', async () => {
    const client = await connect(strict().url(DB));
    const refused = [
      ['CREATE TEMP TABLE e (id int)', /temp/i],
      ['LISTEN e_chan', /listen/i],
      ['select pg_advisory_lock(1)', /advisory/i],
      ['PREPARE e AS SELECT 1', /prepare/i],
      ['DECLARE e CURSOR WITH HOLD FOR SELECT 1', /hold|cursor|declare/i],
      ['SET ROLE trust_user', /role/i],
    ] as const;
    for (const [sql, names] of refused) {
      const error = await client.query(sql).then(() => null, (e: { code?: string; message: string }) => e);
      expect({ sql, code: error?.code, names: names.test(error?.message ?? '') }).toEqual({ sql, code: '0A000', names: true });
      expect(await row(client, 'select current_user::text cu')).toEqual({ cu: 'postgres' });
    }
    await client.end();
  });
});

describe('session_state = ignore', () => {
  const lax = poolerWithSessionState('ignore');

  it('LISTEN passes through without error, as PgBouncer does', async () => {
    const client = await connect(lax().url(DB));
    await client.query('LISTEN ignored_chan');
    await client.query('UNLISTEN *');
    expect(await row(client, 'select 1 one')).toEqual({ one: 1 });
    await client.end();
  });
});
