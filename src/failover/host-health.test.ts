// The host state machine on a hand-turned clock: bans by count and by check, the one probe, lag
// out and back, and the event (log line) for each change.
import { describe, expect, it } from 'vitest';
import { HostHealth, type HealthEvent, type HealthPolicy } from './host-health.js';

function setup(policy: Partial<HealthPolicy> = {}) {
  let now = 1_000_000;
  const events: HealthEvent[] = [];
  const health = new HostHealth(
    'replica1:5432',
    { banAfterFailures: 3, banTime: 60_000, checkPeriod: 10_000, maxLag: { bytes: 0, ms: 0 }, ...policy },
    () => now,
    (event) => events.push(event),
  );
  return {
    health,
    events,
    messages: () => events.map((e) => e.message),
    advance: (ms: number) => {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

describe('passive checks', () => {
  it('bans after server_ban_failures failures in a row, with the reason and until when', () => {
    const t = setup();
    t.health.failed('connection refused');
    t.health.failed('connection refused');
    expect(t.health.usable).toBe(true);
    t.health.failed('connection reset');
    expect(t.health.state).toBe('banned');
    expect(t.health.usable).toBe(false);
    expect(t.health.bannedUntil).toBe(t.now + 60_000);
    expect(t.health.reason).toBe('3 failures in a row, the last: connection reset');
    expect(t.events[0]).toMatchObject({ kind: 'banned', host: 'replica1:5432', until: t.now + 60_000 });
    expect(t.messages()).toEqual(['host replica1:5432 banned for 60s: 3 failures in a row, the last: connection reset']);
  });

  it('counts only failures in a row: a success starts the count again', () => {
    const t = setup();
    for (let i = 0; i < 10; i++) {
      t.health.failed('timeout');
      t.health.failed('timeout');
      t.health.succeeded();
    }
    expect(t.health.state).toBe('up');
    expect(t.events).toEqual([]);
  });

  it('never bans by count with server_ban_failures = 0', () => {
    const t = setup({ banAfterFailures: 0 });
    for (let i = 0; i < 100; i++) t.health.failed('refused');
    expect(t.health.usable).toBe(true);
  });
});

describe('the ban and the one probe', () => {
  it('keeps the host out for server_ban_time, then asks for exactly one probe, which brings it back', () => {
    const t = setup({ checkPeriod: 0 });
    t.health.ban('test');
    t.advance(59_999);
    expect(t.health.due()).toBeNull();
    t.advance(1);
    expect(t.health.due()).toBe('probe');
    expect(t.health.state).toBe('probing');
    expect(t.health.usable).toBe(false);
    expect(t.health.due()).toBeNull();
    t.health.checked('probe', true);
    expect(t.health.state).toBe('up');
    expect([t.health.usable, t.health.bannedUntil, t.health.reason, t.health.failures]).toEqual([true, 0, null, 0]);
    expect(t.messages()).toEqual(['host replica1:5432 banned for 60s: test', 'host replica1:5432 back']);
  });

  it('bans again when the probe fails, for another server_ban_time', () => {
    const t = setup({ banTime: 5_000 });
    t.health.ban('refused');
    t.advance(5_000);
    expect(t.health.due()).toBe('probe');
    t.health.checked('probe', false, 'connection refused');
    expect(t.health.state).toBe('banned');
    expect(t.health.bannedUntil).toBe(t.now + 5_000);
    expect(t.health.bans).toBe(2);
    expect(t.messages()[1]).toBe('host replica1:5432 banned for 5s: probe failed: connection refused');
  });

  it('ignores failures while banned or probing: the probe alone decides', () => {
    const t = setup();
    t.health.ban('x');
    t.health.failed('refused');
    t.advance(60_000);
    t.health.due();
    t.health.failed('refused');
    expect(t.health.state).toBe('probing');
    t.health.checked('probe', true);
    expect(t.health.failures).toBe(0);
  });

  it('extends a ban in force without a second log line', () => {
    const t = setup();
    t.health.ban('first', 10_000);
    t.health.ban('second', 30_000);
    expect(t.health.bannedUntil).toBe(t.now + 30_000);
    expect(t.health.reason).toBe('first');
    expect(t.events).toHaveLength(1);
  });
});

describe('active checks', () => {
  it('asks for a check every health_check_period, one at a time', () => {
    const t = setup();
    expect(t.health.due()).toBeNull();
    t.advance(10_000);
    expect(t.health.due()).toBe('check');
    t.advance(30_000);
    expect(t.health.due()).toBeNull();
    t.health.checked('check', true);
    t.advance(9_999);
    expect(t.health.due()).toBeNull();
    t.advance(1);
    expect(t.health.due()).toBe('check');
  });

  it('bans at once on a failed check', () => {
    const t = setup();
    t.advance(10_000);
    t.health.due();
    t.health.checked('check', false, 'server_check_query: timeout');
    expect(t.health.state).toBe('banned');
    expect(t.messages()).toEqual(['host replica1:5432 banned for 60s: health check failed: server_check_query: timeout']);
  });

  it('does not let a late check end a ban; and with health_check_period = 0 there are none', () => {
    const t = setup();
    t.advance(10_000);
    expect(t.health.due()).toBe('check');
    t.health.ban('failures');
    t.advance(60_000);
    expect(t.health.due()).toBe('probe');
    t.health.checked('check', true);
    expect(t.health.state).toBe('probing');
    const off = setup({ checkPeriod: 0 });
    off.advance(1e9);
    expect(off.health.due()).toBeNull();
  });
});

describe('lag', () => {
  it('takes a replica out over max_replica_lag and back in under half of it', () => {
    const t = setup({ maxLag: { bytes: 1_000_000, ms: 0 } });
    t.health.observeLag(900_000, null);
    expect(t.health.usable).toBe(true);
    t.health.observeLag(1_200_000, null);
    expect([t.health.usable, t.health.status]).toEqual([false, 'lagging']);
    t.health.observeLag(700_000, null);
    expect(t.health.usable).toBe(false);
    t.health.observeLag(400_000, null);
    expect([t.health.usable, t.health.status]).toEqual([true, 'up']);
    expect(t.messages()).toEqual([
      'host replica1:5432 taken out: 1200000 bytes behind, over max_replica_lag',
      'host replica1:5432 caught up (400000 bytes behind)',
    ]);
  });

  it('limits by time as well, keeps the state when the lag is unknown, and lets a reload lift the limit', () => {
    const t = setup({ maxLag: { bytes: 0, ms: 5_000 } });
    t.health.observeLag(1e9, 6_000);
    expect(t.health.lagging).toBe(true);
    t.health.observeLag(null, null);
    expect(t.health.lagging).toBe(true);
    expect(t.health.lagMs).toBeNull();
    t.health.policy = { ...t.health.policy, maxLag: { bytes: 0, ms: 0 } };
    t.health.observeLag(1e9, 6_000);
    expect(t.health.lagging).toBe(false);
  });

  it('is separate from bans: a banned replica that lags is still banned, and lagging once back', () => {
    const t = setup({ maxLag: { bytes: 100, ms: 0 } });
    t.health.ban('refused');
    t.health.observeLag(500, null);
    expect(t.health.status).toBe('banned');
    t.advance(60_000);
    t.health.due();
    t.health.checked('probe', true);
    expect([t.health.state, t.health.status, t.health.usable]).toEqual(['up', 'lagging', false]);
  });
});
