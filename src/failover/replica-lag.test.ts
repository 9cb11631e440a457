// LSN arithmetic, the read-your-writes test and the max_replica_lag check.
import { describe, expect, it } from 'vitest';
import { caughtUp, exceedsLagLimit, formatLsn, hasReplayed, lagBytes, parseLsn, readReplicaStatus } from './replica-lag.js';

describe('LSNs', () => {
  it('reads both 32-bit halves, in either case, and prints them as PostgreSQL does', () => {
    expect(parseLsn('0/3000060')).toBe(0x3000060n);
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('16/b374d848')).toBe(0x16b374d848n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(0xffff_ffff_ffff_ffffn);
    for (const text of ['0/3000060', '16/B374D848', '0/0', 'FFFFFFFF/FFFFFFFF']) expect(formatLsn(parseLsn(text))).toBe(text);
  });

  it('refuses what is not an LSN', () => {
    for (const text of ['', '3000060', '0/', '/1', '0/123456789', 'g/1', '0x1/2']) expect(() => parseLsn(text), text).toThrow(/not an LSN/);
  });

  it('measures lag across the 4 GB boundary of the low half, and never below zero', () => {
    expect(lagBytes(parseLsn('1/00000010'), parseLsn('0/FFFFFFF0'))).toBe(0x20);
    expect(lagBytes(parseLsn('0/3000060'), parseLsn('0/3000000'))).toBe(0x60);
    expect(lagBytes(parseLsn('0/3000000'), parseLsn('0/3000060'))).toBe(0);
  });

  it('tells whether a replica has replayed a commit', () => {
    const commit = parseLsn('0/5000100');
    expect(hasReplayed(parseLsn('0/5000100'), commit)).toBe(true);
    expect(hasReplayed(parseLsn('0/5000200'), commit)).toBe(true);
    expect(hasReplayed(parseLsn('0/50000FF'), commit)).toBe(false);
    expect(hasReplayed(null, commit)).toBe(false);
  });
});

describe('max_replica_lag', () => {
  it('limits bytes, or time, and ignores what is not known', () => {
    const bytes = { bytes: 1000, ms: 0 };
    const time = { bytes: 0, ms: 5000 };
    expect(exceedsLagLimit(bytes, 1001, null)).toBe(true);
    expect(exceedsLagLimit(bytes, 1000, 999_999)).toBe(false);
    expect(exceedsLagLimit(bytes, null, null)).toBe(false);
    expect(exceedsLagLimit(time, 1e12, 5001)).toBe(true);
    expect(exceedsLagLimit(time, 1e12, 5000)).toBe(false);
    expect(exceedsLagLimit({ bytes: 0, ms: 0 }, 1e12, 1e9)).toBe(false);
  });

  it('counts a lagging replica as caught up only at half the limit', () => {
    const limit = { bytes: 1000, ms: 0 };
    expect(caughtUp(limit, 900, null)).toBe(false);
    expect(caughtUp(limit, 500, null)).toBe(true);
  });
});

describe('a replica status row', () => {
  it('reads node-postgres types and simple-protocol text alike', () => {
    expect(readReplicaStatus({ in_recovery: true, replay_lsn: '0/3000060', replay_delay_ms: 12.5 })).toEqual({
      inRecovery: true,
      replayLsn: 0x3000060n,
      replayDelayMs: 12.5,
    });
    expect(readReplicaStatus({ in_recovery: 't', replay_lsn: '0/10', replay_delay_ms: '0' })).toEqual({ inRecovery: true, replayLsn: 0x10n, replayDelayMs: 0 });
    expect(readReplicaStatus({ in_recovery: 'f', replay_lsn: null, replay_delay_ms: '0' })).toEqual({ inRecovery: false, replayLsn: null, replayDelayMs: 0 });
  });
});
