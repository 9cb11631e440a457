// ReadSplit's judgement, message by message: which first messages send a transaction to a
// replica, and which later messages on a replica must wait for the primary instead.
import { beforeAll, describe, expect, it } from 'vitest';
import { FrontendCode } from '../protocol/codes.js';
import { queryMessage, syncMessage } from '../protocol/frontend-messages.js';
import { WireWriter } from '../protocol/wire-writer.js';
import { loadClassifier } from '../sql/index.js';
import { LSN_PENDING, ReadSplit, Side } from './read-split.js';

beforeAll(() => loadClassifier());

function parse(name: string, sql: string): Buffer {
  return new WireWriter().cstring(name).cstring(sql).int16(0).message(FrontendCode.Parse);
}

function bind(statement: string): Buffer {
  return new WireWriter().cstring('').cstring(statement).int16(0).int16(0).int16(0).message(FrontendCode.Bind);
}

const execute = new WireWriter().cstring('').int32(0).message(FrontendCode.Execute);

function choose(split: ReadSplit, message: Buffer | null): Side {
  return split.choose(message?.[0] ?? 0, message, 0, message?.length ?? 0);
}

function allows(split: ReadSplit, message: Buffer): boolean {
  return split.allows(message[0]!, message, 0, message.length);
}

describe('the side of a transaction, from its first message', () => {
  const replica = [
    'SELECT * FROM t WHERE id = 1',
    'select count(*) from orders join lines using (order_id)',
    'SHOW work_mem',
    'BEGIN READ ONLY',
    'START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
    'BEGIN; SET TRANSACTION READ ONLY; SELECT 1',
    'SELECT 1; SELECT 2',
    'COMMIT',
  ];
  const primary = [
    'INSERT INTO t VALUES (1)',
    'BEGIN',
    'BEGIN; SELECT 1',
    'BEGIN READ WRITE',
    "SELECT nextval('s')",
    'SELECT * FROM t FOR UPDATE',
    'SELECT * INTO t2 FROM t',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'SELECT my_function()',
    'SELECT pg_advisory_lock(1)',
    'SET work_mem = 1',
    'SELECT 1; UPDATE t SET x = 1',
    'CREATE TEMP TABLE x (a int)',
    'DO $$ BEGIN END $$',
    'SELEC 1',
    'EXPLAIN ANALYZE DELETE FROM t',
  ];
  it.each(replica)('a replica for %s', (sql) => expect(choose(new ReadSplit(null), queryMessage(sql))).toBe(Side.Replica));
  it.each(primary)('the primary for %s', (sql) => expect(choose(new ReadSplit(null), queryMessage(sql))).toBe(Side.Primary));

  it('judges an extended-protocol batch by its Parse, and a FunctionCall or nothing complete as the primary\'s', () => {
    expect(choose(new ReadSplit(null), parse('', 'SELECT $1::int'))).toBe(Side.Replica);
    expect(choose(new ReadSplit(null), parse('', 'UPDATE t SET a = $1'))).toBe(Side.Primary);
    expect(choose(new ReadSplit(null), null)).toBe(Side.Primary);
    expect(choose(new ReadSplit(null), Buffer.from([FrontendCode.FunctionCall, 0, 0, 0, 4]))).toBe(Side.Primary);
  });

  it('sends a text over the 1 MB the link reads to the primary, unparsed, however it reads', () => {
    const big = queryMessage(`SELECT length('${'x'.repeat(1 << 20)}')`);
    expect(choose(new ReadSplit(null), big)).toBe(Side.Primary);
    expect(choose(new ReadSplit(null), queryMessage(`SELECT length('${'x'.repeat(1000)}')`))).toBe(Side.Replica);
  });

  it('judges a Bind of a named statement by the statement\'s text', () => {
    const statements = new Map([
      ['read', { body: Buffer.from('SELECT a FROM t WHERE id = $1\0\0\0') }],
      ['write', { body: Buffer.from('DELETE FROM t WHERE id = $1\0\0\0') }],
    ]);
    const split = new ReadSplit({ names: statements as never });
    expect(choose(split, bind('read'))).toBe(Side.Replica);
    expect(choose(split, bind('write'))).toBe(Side.Primary);
    expect(choose(split, bind('unknown'))).toBe(Side.Primary);
    // the unnamed statement is judged by the Parse before it on the same server
    expect(choose(split, bind(''))).toBe(Side.Primary);
  });
});

describe('later messages on a replica', () => {
  it('lets reads through and holds a write, a plain BEGIN or an unknown function', () => {
    const split = new ReadSplit(null);
    choose(split, queryMessage('SELECT 1'));
    expect(allows(split, queryMessage('SELECT 1'))).toBe(true);
    expect(allows(split, queryMessage('SELECT 2'))).toBe(true);
    expect(allows(split, queryMessage('UPDATE t SET a = 1'))).toBe(false);
    expect(allows(split, queryMessage('BEGIN'))).toBe(false);
    expect(allows(split, queryMessage('SELECT f()'))).toBe(false);
    expect(split.canRetry).toBe(true);
  });

  it('lets everything into a read-only block, and holds a write after it ends', () => {
    const split = new ReadSplit(null);
    choose(split, queryMessage('BEGIN READ ONLY'));
    expect(allows(split, queryMessage('BEGIN READ ONLY'))).toBe(true);
    // inside the block the server refuses a write itself, as PostgreSQL direct would
    expect(allows(split, queryMessage('UPDATE t SET a = 1'))).toBe(true);
    expect(split.canRetry).toBe(false);
    expect(allows(split, queryMessage('COMMIT'))).toBe(true);
    expect(allows(split, queryMessage('UPDATE t SET a = 1'))).toBe(false);
  });

  it('follows the unnamed statement from Parse to Bind', () => {
    const split = new ReadSplit(null);
    choose(split, parse('', 'SELECT $1::int'));
    expect(allows(split, parse('', 'SELECT $1::int'))).toBe(true);
    expect(allows(split, bind(''))).toBe(true);
    expect(allows(split, execute)).toBe(true);
    expect(allows(split, syncMessage)).toBe(true);
    expect(allows(split, parse('', 'INSERT INTO t VALUES ($1)'))).toBe(false);
    expect(allows(split, bind(''))).toBe(false);
  });
});

describe('the read-your-writes position', () => {
  it('only moves forward, and a pending read leaves the earlier position once known', () => {
    const split = new ReadSplit(null);
    split.requiredLsn = LSN_PENDING;
    split.committedAt(100n);
    expect(split.requiredLsn).toBe(100n);
    split.committedAt(50n);
    expect(split.requiredLsn).toBe(100n);
    split.committedAt(null);
    expect(split.requiredLsn).toBe(100n);
  });
});
