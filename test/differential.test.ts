// The same bytes sent to PostgreSQL directly and through the pooler must get the same replies
// (after login; process ids, cancel keys and timings aside). Covers simple and extended protocol,
// errors mid-pipeline, empty queries, COPY and NOTICEs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient, type RawMessage } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 2 },
    databases: { pooler_test: `host=${postgres.host} port=${postgres.port}` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

const q = (sql: string) => wire().cstring(sql).message('Q');
const parse = (name: string, sql: string) => wire().cstring(name).cstring(sql).int16(0).message('P');
const bind = (portal: string, statement: string, params: string[]) => {
  const w = wire().cstring(portal).cstring(statement).int16(0).int16(params.length);
  for (const p of params) w.int32(Buffer.byteLength(p)).bytes(p);
  return w.int16(0).message('B');
};
const describePortal = (name: string) => wire().bytes('P').cstring(name).message('D');
const execute = (portal: string, rows = 0) => wire().cstring(portal).int32(rows).message('E');
const sync = () => wire().message('S');

/** exchanges: each is the bytes to send and how many ReadyForQuery messages end its reply */
const exchanges: Array<[string, Buffer, number]> = [
  ['simple select', q("SELECT 1 AS one, 'two' AS two, NULL AS nothing"), 1],
  ['several statements in one Query', q('SELECT 1; SELECT 2; SELECT generate_series(1, 3)'), 1],
  ['an empty query', q(''), 1],
  ['an error', q('SELECT * FROM no_such_table'), 1],
  ['a notice', q("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$"), 1],
  ['a transaction', q('BEGIN; SELECT 1; COMMIT'), 1],
  ['a failed transaction', q('BEGIN; SELECT 1/0; SELECT 1; ROLLBACK'), 1],
  [
    'extended protocol',
    Buffer.concat([parse('', 'SELECT $1::int * 2 AS doubled'), bind('', '', ['21']), describePortal(''), execute(''), sync()]),
    1,
  ],
  [
    'a pipeline with an error in the middle',
    Buffer.concat([
      parse('', 'SELECT $1::int AS a'),
      bind('', '', ['1']),
      execute(''),
      sync(),
      parse('', 'SELECT 1/$1::int'),
      bind('', '', ['0']),
      execute(''),
      sync(),
      parse('', 'SELECT $1::text AS after'),
      bind('', '', ['still here']),
      execute(''),
      sync(),
    ]),
    3,
  ],
  [
    'a portal with a row limit',
    Buffer.concat([
      q('BEGIN'),
      parse('', 'SELECT generate_series(1, 5) AS n'),
      bind('cur', '', []),
      execute('cur', 2),
      execute('cur', 2),
      execute('cur', 2),
      sync(),
      q('COMMIT'),
    ]),
    3,
  ],
  ['COPY TO STDOUT', q('COPY (SELECT generate_series(1, 10)) TO STDOUT'), 1],
];

async function login(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  client.send(wire().int32(196608).cstring('user').cstring('postgres').cstring('database').cstring('pooler_test').bytes('\0').untyped());
  const messages = await client.readUntilReady();
  expect(messages.at(-1)?.code).toBe('Z');
  return client;
}

async function replies(client: RawClient, bytes: Buffer, readyCount: number): Promise<RawMessage[]> {
  client.send(bytes);
  const all: RawMessage[] = [];
  for (let i = 0; i < readyCount; i++) all.push(...(await client.readUntilReady()));
  return all;
}

/** drop what legitimately differs between two servers: nothing in these exchanges, except NOTICE line numbers */
function comparable(messages: RawMessage[]): string[] {
  return messages.map((m) => `${m.code} ${m.code === 'N' || m.code === 'E' ? m.body.toString('latin1').replace(/L\d+\0/, 'L?\0') : m.body.toString('latin1')}`);
}

describe('differential: PostgreSQL direct vs through the pooler', () => {
  it.each(exchanges)('%s', async (_name, bytes, readyCount) => {
    const direct = await login(postgres.port);
    const pooled = await login(pooler.port);
    const expected = comparable(await replies(direct, bytes, readyCount));
    const actual = comparable(await replies(pooled, bytes, readyCount));
    expect(actual).toEqual(expected);
    direct.close();
    pooled.close();
  });

  it('sends the same ParameterStatus set at login, with our own BackendKeyData', async () => {
    const collect = async (port: number) => {
      const client = await RawClient.connect(port);
      client.send(wire().int32(196608).cstring('user').cstring('postgres').cstring('database').cstring('pooler_test').bytes('\0').untyped());
      const messages = await client.readUntilReady();
      client.close();
      return messages;
    };
    const direct = await collect(postgres.port);
    const pooled = await collect(pooler.port);
    const names = (ms: RawMessage[]) => ms.filter((m) => m.code === 'S').map((m) => m.body.toString('utf8').split('\0')[0]).sort();
    expect(names(pooled)).toEqual(names(direct));
    expect(pooled.map((m) => m.code).filter((c) => c !== 'S')).toEqual(['R', 'K', 'Z']);
  });
});
