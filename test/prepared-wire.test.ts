// Prepared statements in transaction mode at the wire level: named Parse/Bind/Describe/Close
// pipelines get the same replies through the pooler as from PostgreSQL directly (errors in the
// middle, duplicate and unknown names, portals with row limits, Flush), while clients share the
// statements prepared on each server.
import pg from 'pg';
import { afterAll, beforeAll, describe as group, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { wire } from '../src/testing/wire.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import {
  bind,
  close,
  describe,
  exchange,
  execute,
  flush,
  login,
  parse,
  query,
  sync,
  transcript,
} from './support/extended-protocol.js';
import type { RawClient } from './support/raw-client.js';

const postgres = getPostgres();
const DB = 'prepared_wire';
let pooler: PoolerProcess;
/** max_prepared_statements = 2, to see the LRU evict */
let small: PoolerProcess;
/** max_prepared_statements = 0: names pass through, nothing is tracked */
let untracked: PoolerProcess;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  await postgres.psql('CREATE TABLE shape (a int); INSERT INTO shape VALUES (1); CREATE TABLE copy_target (n int)', { database: DB });
  const databases = { [DB]: `host=${postgres.host} port=${postgres.port} pool_size=1` };
  const settings = { auth_type: 'trust', pool_mode: 'transaction', admin_users: 'postgres' };
  [pooler, small, untracked] = await Promise.all([
    startPooler({ settings, databases }),
    startPooler({ settings: { ...settings, max_prepared_statements: 2 }, databases }),
    startPooler({ settings: { ...settings, max_prepared_statements: 0 }, databases }),
  ]);
});

afterAll(async () => {
  await Promise.all([pooler?.stop(), small?.stop(), untracked?.stop()]);
});

/** int4pl(int4, int4), by its fixed OID */
const INT4PL = 177;
const functionCall = (oid: number, args: string[]) => {
  const w = wire().int32(oid).int16(0).int16(args.length);
  for (const arg of args) w.int32(Buffer.byteLength(arg)).bytes(arg);
  return w.int16(0).message('F');
};

/** pipelines of named statements; each is the bytes sent and how many ReadyForQuery end the reply */
const pipelines: Array<[string, Buffer[]]> = [
  [
    'prepare, describe, bind, execute and close a named statement',
    [
      Buffer.concat([parse('s1', 'SELECT $1::int + 1 AS next', [23]), describe('S', 's1'), sync()]),
      Buffer.concat([bind('', 's1', ['41']), describe('P', ''), execute(), sync()]),
      Buffer.concat([close('S', 's1'), sync()]),
      Buffer.concat([bind('', 's1', ['1']), execute(), sync()]),
      query('SELECT 1 AS still_usable'),
    ],
  ],
  [
    'a name reused without Close is 42P05, the rest up to Sync skipped, the first statement kept',
    [
      Buffer.concat([parse('dup', 'SELECT 1 AS first'), sync()]),
      Buffer.concat([parse('dup', 'SELECT 2 AS second'), bind('', 'dup'), execute(), sync()]),
      Buffer.concat([bind('', 'dup'), execute(), sync()]),
    ],
  ],
  [
    'an unknown name in the middle of a pipeline is 26000 after the replies before it',
    [
      Buffer.concat([parse('a', 'SELECT 10 AS a'), bind('', 'a'), execute(), bind('', 'nope'), execute(), parse('b', 'SELECT 20'), sync()]),
      Buffer.concat([bind('', 'b'), execute(), sync()]),
      Buffer.concat([bind('', 'a'), execute(), sync()]),
    ],
  ],
  [
    'an error mid-pipeline: the Parse the server skipped does not exist afterwards',
    [
      Buffer.concat([parse('z', 'SELECT 1/$1::int'), bind('', 'z', ['0']), execute(), parse('y', 'SELECT 2 AS y'), sync()]),
      Buffer.concat([bind('', 'y'), execute(), sync()]),
      Buffer.concat([parse('y', 'SELECT 3 AS y'), bind('', 'y'), execute(), sync()]),
      Buffer.concat([bind('', 'z', ['4']), execute(), sync()]),
    ],
  ],
  [
    'a Parse that fails leaves no statement behind',
    [Buffer.concat([parse('bad', 'SELEC 1'), sync()]), Buffer.concat([bind('', 'bad'), execute(), sync()]), Buffer.concat([parse('bad', 'SELECT 1'), sync()])],
  ],
  [
    'an unknown name inside a transaction block fails the transaction, as in PostgreSQL',
    [query('BEGIN'), Buffer.concat([bind('', 'ghost'), execute(), sync()]), query('SELECT 1'), query('ROLLBACK')],
  ],
  [
    'Close, then the name prepared again with other text',
    [
      Buffer.concat([parse('r', 'SELECT 1 AS one'), bind('', 'r'), execute(), close('S', 'r'), parse('r', "SELECT 'two' AS two"), bind('', 'r'), execute(), sync()]),
      Buffer.concat([close('S', 'never_prepared'), sync()]),
    ],
  ],
  [
    'a named portal with a row limit, continued to the end',
    [
      query('BEGIN'),
      Buffer.concat([
        parse('series', 'SELECT generate_series(1, 5) AS n'),
        bind('cur', 'series'),
        describe('P', 'cur'),
        execute('cur', 2),
        execute('cur', 2),
        execute('cur', 2),
        sync(),
      ]),
      query('COMMIT'),
    ],
  ],
  [
    'many Syncs in flight',
    [
      Buffer.concat([
        parse('p1', 'SELECT $1::int AS v'),
        sync(),
        bind('', 'p1', ['1']),
        execute(),
        sync(),
        bind('', 'p1', ['2']),
        execute(),
        sync(),
        parse('p2', 'SELECT $1::text AS t'),
        bind('', 'p2', ['x']),
        execute(),
        sync(),
      ]),
    ],
  ],
  [
    'a Bind with the wrong number of parameters: the error names the client\'s statement',
    [Buffer.concat([parse('two_params', 'SELECT $1::int + $2::int'), bind('', 'two_params', ['1']), execute(), sync()])],
  ],
  [
    'a FunctionCall between named statements',
    [Buffer.concat([parse('f', 'SELECT 1 AS f'), sync(), functionCall(INT4PL, ['2', '3']), bind('', 'f'), execute(), sync()])],
  ],
  [
    'DEALLOCATE ALL forgets every statement',
    [Buffer.concat([parse('gone', 'SELECT 1'), sync()]), query('DEALLOCATE ALL'), Buffer.concat([bind('', 'gone'), execute(), sync()]), Buffer.concat([parse('gone', 'SELECT 2 AS back'), bind('', 'gone'), execute(), sync()])],
  ],
];

async function run(port: number, steps: Buffer[]): Promise<string[]> {
  const client = await login(port, DB);
  const out: string[] = [];
  for (const step of steps) {
    out.push(...transcript(await exchange(client, step, countSyncs(step))));
  }
  client.close();
  return out;
}

/** ReadyForQuery messages a step earns: one per Sync, Query or FunctionCall in it */
function countSyncs(bytes: Buffer): number {
  let n = 0;
  for (let at = 0; at < bytes.length; at += 1 + bytes.readUInt32BE(at + 1)) if ([0x53, 0x51, 0x46].includes(bytes[at]!)) n++;
  return n;
}

group('named statements: the same replies as PostgreSQL direct', () => {
  it.each(pipelines)('%s', async (_name, steps) => {
    const expected = await run(postgres.port, steps);
    const actual = await run(pooler.port, steps);
    expect(actual).toEqual(expected);
    // the error cases really are errors, not silently accepted
    expect(expected.length).toBeGreaterThan(0);
  });
});

async function serverStatements(): Promise<string[]> {
  const client = await login(pooler.port, DB);
  const rows = transcript(await exchange(client, query('SELECT name FROM pg_prepared_statements ORDER BY name')));
  client.close();
  return rows.filter((r) => r.startsWith('D ')).map((r) => r.slice(7));
}

async function consoleRow(command: string, column: string): Promise<Array<Record<string, unknown>>> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
  await admin.connect();
  const { rows } = await admin.query(command);
  await admin.end();
  return rows.map((row) => ({ ...row, value: row[column] }));
}

/** COPY FROM STDIN through the extended protocol as libpq sends it: Sync before the data (ignored by the server) and after */
async function copyIn(port: number, name: string, finish: Buffer): Promise<{ client: RawClient; out: string[] }> {
  const client = await login(port, DB);
  client.send(Buffer.concat([parse(name, 'COPY copy_target FROM STDIN'), bind('', name), execute(), sync()]));
  const out: string[] = [];
  for (let m = await client.readMessage(); m !== null; m = m.code === 'G' ? null : await client.readMessage()) out.push(...transcript([m]));
  out.push(...transcript(await exchange(client, finish)));
  out.push(...transcript(await exchange(client, query('SELECT count(*) > 0 AS copied FROM copy_target'))));
  return { client, out };
}

group('COPY through the extended protocol', () => {
  const done = Buffer.concat([wire().bytes('1\n2\n').message('d'), wire().message('c'), sync()]);
  const failed = Buffer.concat([wire().cstring('changed my mind').message('f'), sync()]);
  it.each([
    ['CopyDone', 'tracked', done],
    ['CopyFail', 'tracked', failed],
    ['CopyDone', 'untracked', done],
    ['CopyFail', 'untracked', failed],
  ])('ends with %s like PostgreSQL, and the server is released afterwards (statements %s)', async (_name, tracking, finish) => {
    const through = tracking === 'tracked' ? pooler : untracked;
    // without tracking a named statement would stay behind on the server for the next client
    const name = tracking === 'tracked' ? 'copy_in' : '';
    const direct = await copyIn(postgres.port, name, finish);
    direct.client.close();
    const pooled = await copyIn(through.port, name, finish);
    expect(pooled.out).toEqual(direct.out);
    // pool_size = 1: another client gets the server while the first stays connected, so it was released
    const other = await login(through.port, DB);
    expect(transcript(await exchange(other, query('SELECT 1'), 1)).at(-1)).toBe('Z I');
    other.close();
    pooled.client.close();
  });
});

group('sharing statements between clients', () => {
  it('a second client preparing the same text under another name reuses the server statement', async () => {
    const statsBefore = (await consoleRow('SHOW STATS', 'total_server_parse_count')).find((r) => r.database === DB);
    const a = await login(pooler.port, DB);
    const b = await login(pooler.port, DB);
    const sql = 'SELECT $1::int * 3 AS shared_triple';
    expect(transcript(await exchange(a, Buffer.concat([parse('mine', sql), bind('', 'mine', ['2']), execute(), sync()])))).toContain('C SELECT 1\0');
    const reply = transcript(await exchange(b, Buffer.concat([parse('theirs', sql), bind('', 'theirs', ['5']), execute(), sync()])));
    expect(reply.map((r) => r[0])).toEqual(['1', '2', 'D', 'C', 'Z']);
    const clients = await consoleRow('SHOW CLIENTS', 'prepared_statements');
    expect(clients.filter((c) => c.database === DB).map((c) => c.value)).toContain(1);
    a.close();
    b.close();
    const statsAfter = (await consoleRow('SHOW STATS', 'total_server_parse_count')).find((r) => r.database === DB);
    expect(Number(statsAfter!.value) - Number(statsBefore!.value)).toBe(1);
    expect(Number(statsAfter!.total_client_parse_count) - Number(statsBefore!.total_client_parse_count)).toBe(2);
    const servers = await consoleRow('SHOW SERVERS', 'prepared_statements');
    expect(Number(servers.find((s) => s.database === DB)!.value)).toBeGreaterThan(0);
  });

  it('continues a suspended portal after Flush, across replies the client waits for', async () => {
    const client = await login(pooler.port, DB);
    client.send(Buffer.concat([query('BEGIN')]));
    await client.readUntilReady();
    client.send(Buffer.concat([parse('gen', 'SELECT generate_series(1, 5) AS n'), bind('c', 'gen'), execute('c', 2), flush()]));
    const first = [];
    for (let i = 0; i < 5; i++) first.push((await client.readMessage())!.code);
    expect(first).toEqual(['1', '2', 'D', 'D', 's']);
    client.send(Buffer.concat([execute('c', 2), flush()]));
    const second = [];
    for (let i = 0; i < 3; i++) second.push((await client.readMessage())!.code);
    expect(second).toEqual(['D', 'D', 's']);
    const rest = transcript(await exchange(client, Buffer.concat([execute('c', 0), sync(), query('COMMIT')]), 2));
    expect(rest.map((r) => r[0])).toEqual(['D', 'C', 'Z', 'C', 'Z']);
    client.close();
  });

  it('after a schema change (0A000 cached plan must not change result type) the next client gets a fresh statement', async () => {
    const sql = 'SELECT * FROM shape';
    const a = await login(pooler.port, DB);
    expect(transcript(await exchange(a, Buffer.concat([parse('shape_a', sql), bind('', 'shape_a'), execute(), sync()]))).map((r) => r[0])).toEqual(['1', '2', 'D', 'C', 'Z']);
    await postgres.psql('ALTER TABLE shape ADD COLUMN b int DEFAULT 2', { database: DB });
    const failed = transcript(await exchange(a, Buffer.concat([bind('', 'shape_a'), execute(), sync()])));
    expect(failed[0]).toBe('E 0A000 cached plan must not change result type');
    const b = await login(pooler.port, DB);
    const fresh = transcript(await exchange(b, Buffer.concat([parse('shape_b', sql), bind('', 'shape_b'), describe('P', ''), execute(), sync()])));
    expect(fresh.map((r) => r[0])).toEqual(['1', '2', 'T', 'D', 'C', 'Z']);
    expect(fresh[3]).toContain('\u0000\u0000\u0000\u00012');
    // and the client that hit the error works again too, as its statement is prepared afresh
    const again = transcript(await exchange(a, Buffer.concat([bind('', 'shape_a'), execute(), sync()])));
    expect(again.map((r) => r[0])).toEqual(['2', 'D', 'C', 'Z']);
    a.close();
    b.close();
  });

  it('evicts the least recently used statement beyond max_prepared_statements, and re-prepares it when needed', async () => {
    const client = await login(small.port, DB);
    const steps = ['one', 'two', 'three'].map((name, i) => Buffer.concat([parse(name, `SELECT ${i + 1} AS ${name}`), bind('', name), execute(), sync()]));
    for (const step of steps) expect(transcript(await exchange(client, step)).map((r) => r[0])).toEqual(['1', '2', 'D', 'C', 'Z']);
    const again = transcript(await exchange(client, Buffer.concat([bind('', 'one'), execute(), sync()])));
    expect(again).toEqual(['2 ', 'D \u0000\u0001\u0000\u0000\u0000\u00011', 'C SELECT 1\u0000', 'Z I']);
    const names = transcript(await exchange(client, query("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'POOLER_%'")));
    expect(names[1]).toContain('\u00012');
    client.close();
  });

  it('answers Parse + Sync of a known statement from a client that holds no server, without waiting for one', async () => {
    const holder = await login(pooler.port, DB);
    const sql = 'SELECT 42 AS answer';
    await exchange(holder, Buffer.concat([parse('known', sql), sync()]));
    // the only server is now held in a transaction
    await exchange(holder, query('BEGIN'));
    const other = await login(pooler.port, DB);
    expect(transcript(await exchange(other, Buffer.concat([parse('also_known', sql), sync()])))).toEqual(['1 ', 'Z I']);
    const waiting = exchange(other, Buffer.concat([bind('', 'also_known'), execute(), sync()]));
    await exchange(holder, query('COMMIT'));
    expect(transcript(await waiting).map((r) => r[0])).toEqual(['2', 'D', 'C', 'Z']);
    holder.close();
    other.close();
  });

  it('the server keeps one copy per statement text, named by the pooler', async () => {
    const names = await serverStatements();
    expect(names.length).toBeGreaterThan(0);
    // a random part per process, so no client can guess another's statement name
    for (const name of names) expect(name).toMatch(/POOLER_[0-9a-f]{12}_\d+$/);
  });
});
