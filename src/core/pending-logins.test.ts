// The bound on connections that have not logged in: the oldest goes first, a console login moves to
// the back of the line, and the limit follows max_client_conn above a floor.
import { describe, expect, it } from 'vitest';
import { PoolerError } from '../errors.js';
import { MIN_PENDING_LOGINS, PendingLogins, pendingLoginLimit } from './pending-logins.js';

class FakeLogin {
  failed: PoolerError | null = null;
  constructor(readonly name: string) {}
  fail(error: PoolerError): void {
    this.failed = error;
  }
}

describe('PendingLogins', () => {
  it('closes the oldest pending login with 53300 once there are more than the limit', () => {
    const pending = new PendingLogins<FakeLogin>();
    const logins = ['a', 'b', 'c', 'd'].map((name) => new FakeLogin(name));
    for (const login of logins) pending.add(login, 3);
    expect(logins.map((login) => login.failed?.sqlstate ?? null)).toEqual(['53300', null, null, null]);
    expect(logins[0]!.failed!.message).toMatch(/not logged in yet/);
    expect(pending.size).toBe(3);
    expect(pending.has(logins[0]!)).toBe(false);
  });

  it('moves a renewed login to the back of the line, and forgets deleted ones', () => {
    const pending = new PendingLogins<FakeLogin>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => new FakeLogin(name));
    pending.add(a!, 3);
    pending.add(b!, 3);
    pending.renew(a!);
    pending.delete(b!);
    pending.renew(b!);
    expect(pending.has(b!)).toBe(false);
    pending.add(c!, 2);
    pending.add(d!, 2);
    // a was renewed after b, but b is gone: a is still the oldest and goes
    expect([a, c, d].map((login) => login!.failed !== null)).toEqual([true, false, false]);
  });

  it('allows as many pending logins as max_client_conn, and never fewer than the floor', () => {
    expect(pendingLoginLimit(5)).toBe(MIN_PENDING_LOGINS);
    expect(pendingLoginLimit(0)).toBe(MIN_PENDING_LOGINS);
    expect(pendingLoginLimit(5000)).toBe(5000);
  });
});
