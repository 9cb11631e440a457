// The reply queue's ring: order kept across growth, removal in the middle, and which reply ends which request.
import { describe, expect, it } from 'vitest';
import { BackendCode } from './codes.js';
import { Action, endsRequest, ReplyQueue, Request } from './reply-queue.js';

describe('ReplyQueue', () => {
  it('keeps order across growth and removal in the middle', () => {
    const queue = new ReplyQueue<null>();
    for (let n = 0; n < 40; n++) queue.push(n % 2 === 0 ? Request.Execute : Request.Sync, Action.Forward, 0, null, `e${n}`);
    queue.shift();
    queue.removeAt(1);
    expect(queue.size).toBe(38);
    expect([0, 1, 2].map((n) => queue.name(queue.index(n)))).toEqual(['e1', 'e3', 'e4']);
  });

  it('ends an Execute at CommandComplete, EmptyQueryResponse or PortalSuspended, and a Sync only at ReadyForQuery', () => {
    for (const code of [BackendCode.CommandComplete, BackendCode.EmptyQueryResponse, BackendCode.PortalSuspended]) expect(endsRequest(Request.Execute, code)).toBe(true);
    expect(endsRequest(Request.Execute, BackendCode.DataRow)).toBe(false);
    expect(endsRequest(Request.Sync, BackendCode.ReadyForQuery)).toBe(true);
    expect(endsRequest(Request.Sync, BackendCode.CommandComplete)).toBe(false);
    expect(endsRequest(Request.CopyEnd, BackendCode.ReadyForQuery)).toBe(false);
  });
});
