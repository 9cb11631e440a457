// Which client messages count as a lone BEGIN that may be sent to another server.
import { describe, expect, it } from 'vitest';
import { queryMessage } from '../protocol/frontend-messages.js';
import { isLoneBegin } from './replayable-begin.js';

describe('isLoneBegin', () => {
  it.each(['BEGIN', 'begin', 'BEGIN;', '  begin work ; ', 'BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY', 'START TRANSACTION', 'start\ntransaction read write;'])(
    'accepts %j',
    (sql) => expect(isLoneBegin(queryMessage(sql))).toBe(true),
  );

  it.each(['BEGIN; INSERT INTO t VALUES (1)', 'SELECT 1', 'beginning', 'START', 'COMMIT', 'STARTTRANSACTION', ''])('refuses %j', (sql) =>
    expect(isLoneBegin(queryMessage(sql))).toBe(false),
  );

  it('refuses anything but exactly one Query message', () => {
    const begin = queryMessage('BEGIN');
    expect(isLoneBegin(Buffer.concat([begin, queryMessage('INSERT INTO t VALUES (1)')]))).toBe(false);
    expect(isLoneBegin(begin.subarray(0, begin.length - 2))).toBe(false);
    const parse = Buffer.from(begin);
    parse[0] = 0x50;
    expect(isLoneBegin(parse)).toBe(false);
  });
});
