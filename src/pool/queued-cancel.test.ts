// A cancel for a client still waiting for a server (its query held, not sent): the pooler answers
// 57014 and ReadyForQuery as the server would, and the query never runs. PgBouncer drops such a
// cancel, so the query runs later anyway (its issue #1222). Over fake servers, and the one-request
// test that decides when the pooler may answer.
import { beforeAll, describe, expect, it } from 'vitest';
import { isOneRequest } from '../client/queued-request.js';
import { extendedQuery, queryMessage, syncMessage } from '../protocol/frontend-messages.js';
import { loadClassifier } from '../sql/index.js';
import { loggedInClient, poolRig, settleAll } from '../testing/pool-rig.js';
import { wire } from '../testing/wire.js';
import type { Link } from './link.js';

const Ready = (status: 'I' | 'T') => wire().bytes(status).message('Z');
const Complete = (tag: string) => wire().cstring(tag).message('C');

beforeAll(() => loadClassifier());

describe('a cancel for a client waiting for a server', () => {
  it('answers 57014 for the held query, which never reaches a server, and the client goes on', async () => {
    const rig = poolRig('transaction');
    const a = await loggedInClient(rig);
    a.feed(queryMessage('BEGIN'));
    await settleAll();
    const server = rig.servers[0]!;
    server.take();
    server.feed(Buffer.concat([Complete('BEGIN'), Ready('T')]));
    await settleAll();
    // the pool's only server is in a's transaction: b waits with its query held
    const { client, socket: b } = rig.connect();
    await settleAll();
    b.take();
    b.feed(queryMessage('SELECT pg_sleep(10)'));
    await settleAll();
    expect((client.link as Link).state).toBe('waiting');
    rig.pool.cancel(client.link as Link);
    const answer = b.take().toString('latin1');
    expect(answer).toContain('57014');
    expect(answer).toContain('canceling statement due to user request');
    expect(answer.endsWith('Z\0\0\0\x05I')).toBe(true);
    // a ends its transaction: the server is free, and nothing of b's reaches it
    a.feed(queryMessage('COMMIT'));
    await settleAll();
    server.feed(Buffer.concat([Complete('COMMIT'), Ready('I')]));
    await settleAll();
    expect(server.take().toString('latin1')).not.toContain('pg_sleep');
    // b's next query runs as usual
    b.feed(queryMessage('SELECT 1'));
    await settleAll();
    expect(server.take().toString('latin1')).toContain('SELECT 1');
  });

  it('leaves a client with several requests held waiting: a cancel then goes the usual way', async () => {
    const rig = poolRig('transaction');
    const a = await loggedInClient(rig);
    a.feed(queryMessage('BEGIN'));
    await settleAll();
    rig.servers[0]!.feed(Buffer.concat([Complete('BEGIN'), Ready('T')]));
    await settleAll();
    const { client, socket: b } = rig.connect();
    await settleAll();
    b.take();
    b.feed(Buffer.concat([queryMessage('SELECT 1'), queryMessage('SELECT 2')]));
    await settleAll();
    rig.pool.cancel(client.link as Link);
    expect(b.take()).toHaveLength(0);
    expect((client.link as Link).state).toBe('waiting');
  });
});

describe('isOneRequest', () => {
  it('is one simple Query, or one extended batch up to its only Sync', () => {
    expect(isOneRequest(queryMessage('SELECT 1'))).toBe(true);
    expect(isOneRequest(extendedQuery('SELECT $1', ['1']))).toBe(true);
    expect(isOneRequest(Buffer.concat([queryMessage('SELECT 1'), queryMessage('SELECT 2')]))).toBe(false);
    expect(isOneRequest(Buffer.concat([extendedQuery('SELECT 1', []), syncMessage]))).toBe(false);
    // an extended batch without its Sync yet, or a message cut short
    expect(isOneRequest(extendedQuery('SELECT 1', []).subarray(0, -5))).toBe(false);
    expect(isOneRequest(queryMessage('SELECT 1').subarray(0, 8))).toBe(false);
    expect(isOneRequest(Buffer.alloc(0))).toBe(false);
    expect(isOneRequest(Buffer.concat([extendedQuery('SELECT 1', []).subarray(0, -5), queryMessage('SELECT 2')]))).toBe(false);
  });
});
