// The host monitor on a hand-turned clock with a fake checker: first checks at once, roles and lag
// from one round, bans by check and by reported failures, the probe, Patroni's view while fresh,
// host lists that change, and one log line per ban and return.
import { describe, expect, it } from 'vitest';
import { emptyDatabase } from '../config/databases.js';
import { defaultSettings } from '../config/settings.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import type { Logger } from '../log.js';
import { HostMonitor, type HostChecker, type HostEntry, type HostStatus } from './host-monitor.js';
import { Topology, type ServerAddress } from './topology.js';

const standby = (replayLsn: bigint, replayDelayMs = 0): HostStatus => ({ inRecovery: true, replayLsn, replayDelayMs, primaryLsn: null });
const primary = (lsn: bigint): HostStatus => ({ inRecovery: false, replayLsn: null, replayDelayMs: 0, primaryLsn: lsn });

class FakeChecker implements HostChecker {
  /** by port: what the host answers, an error, or null (no login) */
  answers = new Map<number, HostStatus | Error | null>();
  calls: string[] = [];
  status(_database: DatabaseConfig, address: ServerAddress): Promise<HostStatus | null> {
    this.calls.push(`status ${address.port}`);
    const answer = this.answers.get(address.port);
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer ?? null);
  }
  primaryLsn(_database: DatabaseConfig, address: ServerAddress): Promise<bigint | null> {
    this.calls.push(`lsn ${address.port}`);
    const answer = this.answers.get(address.port);
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer?.primaryLsn ?? null);
  }
  stop(): void {}
}

function setup(entry: Partial<DatabaseConfig> & { hosts: ServerAddress[] }, overrides: Partial<Settings> = {}) {
  const settings: Settings = { ...defaultSettings(), health_check_period: 1000, server_ban_time: 5000, server_ban_failures: 3, max_replica_lag: { bytes: 1000, ms: 0 }, ...overrides };
  const lines: { level: string; message: string }[] = [];
  const record = (level: string) => (_fields: unknown, message: string) => lines.push({ level, message });
  const log = { warn: record('warn'), info: record('info'), debug: record('debug') } as unknown as Logger;
  const database: DatabaseConfig = { ...emptyDatabase('app'), host: entry.hosts[0]!.host, port: entry.hosts[0]!.port, ...entry };
  const topology = new Topology(database, { pollInterval: 1000, log, onChange: () => {} });
  const checker = new FakeChecker();
  let now = 1_000_000;
  const monitor = new HostMonitor({ log, checker, settings: () => settings, now: () => now });
  return {
    topology,
    checker,
    monitor,
    settings,
    lines,
    messages: () => lines.filter((l) => l.level !== 'debug').map((l) => l.message),
    async tick(advance = 0) {
      now += advance;
      monitor.tick([topology]);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    },
    row: (port: number) => flat(monitor.hostsOf(topology).find((e) => e.address.port === port)!),
    get now() {
      return now;
    },
  };
}

/** an entry as the assertions read it */
function flat(entry: HostEntry) {
  const host = entry.monitored;
  const health = host?.health;
  return {
    ...entry.address,
    role: entry.role,
    monitored: host !== null,
    state: health?.state ?? 'up',
    lagging: health?.lagging ?? false,
    lagBytes: health?.lagBytes ?? null,
    lagMs: health?.lagMs ?? null,
    bannedUntil: health?.bannedUntil ?? 0,
    banReason: health?.reason ?? null,
    checkedAt: host?.checkedAt ?? 0,
    bans: host?.bans,
    transactions: host?.transactions ?? 0,
    avgTransactionMs: host?.transactionTime.value ?? 0,
  };
}

const THREE = [
  { host: 'h', port: 1 },
  { host: 'h', port: 2 },
  { host: 'h', port: 3 },
];

describe('active checks over a host list', () => {
  it('checks every host on the first tick: roles, and byte lag against the primary read in the same round', async () => {
    const t = setup({ hosts: THREE, target_session_attrs: 'prefer-standby' });
    t.checker.answers.set(1, primary(10_000n)).set(2, standby(9_900n, 12)).set(3, standby(5_000n, 800));
    await t.tick();
    expect(t.checker.calls.sort()).toEqual(['status 1', 'status 2', 'status 3']);
    expect(t.row(1)).toMatchObject({ role: 'primary', state: 'up', lagging: false, lagBytes: 0, monitored: true, checkedAt: t.now });
    expect(t.row(2)).toMatchObject({ role: 'standby', lagBytes: 100, lagMs: 12, lagging: false });
    expect(t.row(3)).toMatchObject({ role: 'standby', lagBytes: 5000, lagging: true, bans: { replica_lag: 1 } });
    expect(t.monitor.usable('app', { host: 'h', port: 3 })).toBe(false);
    expect(t.messages()).toEqual(['database app: host h:3 taken out: 5000 bytes, 0.8s behind, over max_replica_lag']);

    // not again before health_check_period; then it catches up (under half the limit)
    await t.tick(500);
    expect(t.checker.calls).toHaveLength(3);
    t.checker.answers.set(1, primary(20_000n)).set(2, standby(20_000n)).set(3, standby(19_800n));
    await t.tick(500);
    expect(t.row(3)).toMatchObject({ lagBytes: 200, lagging: false });
    expect(t.messages()[1]).toBe('database app: host h:3 caught up (200 bytes, 0s behind)');
  });

  it('reads the primary position itself when the primary was not in the round', async () => {
    const t = setup({ hosts: THREE.slice(0, 2) }, { health_check_period: 2000 });
    t.checker.answers.set(1, primary(10_000n)).set(2, new Error('down'));
    await t.tick();
    // the primary is checked at +2 s and +4 s; the standby's probe comes alone at +5 s
    await t.tick(2000);
    await t.tick(2000);
    t.checker.calls = [];
    t.checker.answers.set(1, primary(50_000n)).set(2, standby(49_000n));
    await t.tick(1000);
    expect(t.checker.calls).toEqual(['status 2', 'lsn 1']);
    expect(t.row(2)).toMatchObject({ state: 'up', role: 'standby', lagBytes: 1000 });
  });

  it('bans a host whose check fails, logs it once, and lets one probe bring it back', async () => {
    const t = setup({ hosts: THREE });
    t.checker.answers.set(1, primary(1n)).set(2, standby(1n)).set(3, new Error('could not talk to server at h:3: ECONNREFUSED'));
    await t.tick();
    expect(t.row(3)).toMatchObject({ state: 'banned', banReason: 'health check failed: could not talk to server at h:3: ECONNREFUSED', bannedUntil: t.now + 5000 });
    expect(t.monitor.usable('app', { host: 'h', port: 3 })).toBe(false);
    await t.tick(1000);
    await t.tick(1000);
    expect(t.messages()).toEqual(['database app: host h:3 banned for 5s: health check failed: could not talk to server at h:3: ECONNREFUSED']);
    t.checker.answers.set(3, standby(1n));
    await t.tick(3000);
    expect(t.row(3)).toMatchObject({ state: 'up', banReason: null, bans: { health_check: 1, probe: 0 } });
    expect(t.messages()[1]).toBe('database app: host h:3 back');
  });

  it('bans after server_ban_failures failures the pool reports in a row; a success in between starts over', () => {
    const t = setup({ hosts: THREE });
    t.monitor.tick([t.topology]);
    const h2 = { host: 'h', port: 2 };
    t.monitor.reportFailure('app', h2, 'connection reset');
    t.monitor.reportFailure('app', h2, 'connection reset');
    t.monitor.reportSuccess('app', h2);
    t.monitor.reportFailure('app', h2, 'connection reset');
    t.monitor.reportFailure('app', h2, 'connection reset');
    expect(t.monitor.usable('app', h2)).toBe(true);
    t.monitor.reportFailure('app', h2, 'connection reset');
    expect(t.monitor.usable('app', h2)).toBe(false);
    expect(t.row(2)).toMatchObject({ state: 'banned', banReason: '3 failures in a row, the last: connection reset', bans: { failures: 1 } });
    // hosts nothing monitors are always usable, and reports about them go nowhere
    expect(t.monitor.usable('app', { host: 'other', port: 9 })).toBe(true);
    expect(t.monitor.usable('nosuch', h2)).toBe(true);
    t.monitor.transactionDone('app', h2, 4);
    t.monitor.transactionDone('app', h2, 4);
    expect(t.row(2)).toMatchObject({ transactions: 2, avgTransactionMs: 4 });
  });

  it('passes hosts unchecked while there is nobody to log in as, and says so once', async () => {
    const t = setup({ hosts: THREE });
    await t.tick();
    await t.tick(1000);
    expect(t.row(1)).toMatchObject({ state: 'up', role: 'unknown' });
    expect(t.messages()).toEqual([expect.stringContaining('database app: no user to log in as for health checks yet')]);
  });

  it('keeps the state of hosts a reload keeps, and drops the others', async () => {
    const t = setup({ hosts: THREE });
    t.checker.answers.set(3, new Error('down'));
    await t.tick();
    expect(t.row(3).state).toBe('banned');
    t.topology.update({ ...t.topology.database, hosts: [THREE[2]!, { host: 'h', port: 4 }] });
    await t.tick();
    expect(t.monitor.hostsOf(t.topology).map(flat).map((r) => [r.port, r.state])).toEqual([
      [3, 'banned'],
      [4, 'up'],
    ]);
  });
});

describe('replay positions (read_your_writes)', () => {
  it("takes a standby's position from its check, forgets it once the host is a primary or leaves, and keeps it while the host is down", async () => {
    const t = setup({ hosts: THREE });
    t.checker.answers.set(1, primary(10_000n)).set(2, standby(9_000n)).set(3, standby(8_000n));
    await t.tick();
    const [one, two, three] = [1, 2, 3].map((port) => t.monitor.host('app', { host: 'h', port })!);
    expect([one!.replayLsn, two!.replayLsn, three!.replayLsn]).toEqual([null, 9_000n, 8_000n]);
    expect(two!.replayLsnAt).toBe(t.now);
    // a newer reading from the replay poll is not overwritten by a check sent before it
    two!.observeReplay(9_500n, t.now + 1500);
    t.checker.answers.set(2, standby(9_200n));
    await t.tick(1000);
    expect(two!.replayLsn).toBe(9_500n);
    t.checker.answers.set(2, primary(12_000n)).set(3, new Error('down'));
    await t.tick(1000);
    expect(two!.replayLsn).toBeNull();
    expect(three!.replayLsn).toBe(8_000n);
    t.topology.update({ ...t.topology.database, hosts: [THREE[0]!, THREE[1]!] });
    await t.tick();
    expect(three!.replayLsn).toBeNull();
  });

  it('applies readings in the order they were asked for', () => {
    const t = setup({ hosts: THREE });
    t.monitor.tick([t.topology]);
    const host = t.monitor.host('app', { host: 'h', port: 2 })!;
    host.observeReplay(200n, 2000);
    host.observeReplay(100n, 1000);
    expect([host.replayLsn, host.replayLsnAt]).toEqual([200n, 2000]);
    host.observeReplay(150n, 3000);
    expect(host.replayLsn).toBe(150n);
  });
});

describe('what is not a host list', () => {
  it('lists a single static host unchecked, as up', async () => {
    const t = setup({ hosts: [{ host: 'db', port: 5432 }] });
    await t.tick();
    expect(t.checker.calls).toEqual([]);
    expect(t.monitor.hostsOf(t.topology).map(flat)).toEqual([expect.objectContaining({ host: 'db', port: 5432, role: 'unknown', state: 'up', monitored: false, checkedAt: 0 })]);
  });

  it("judges Patroni members from the last /cluster answer while it is fresh, and logs in once it is stale", async () => {
    const t = setup({ hosts: [{ host: 'x', port: 1 }], patroni: ['http://127.0.0.1:1'] }, { patroni_poll_interval: 1000 });
    t.topology.members = [
      { name: 'n1', host: 'h', port: 1, role: 'leader', state: 'running', lag: null },
      { name: 'n2', host: 'h', port: 2, role: 'replica', state: 'streaming', lag: 5000 },
      { name: 'n3', host: 'h', port: 3, role: 'replica', state: 'stopped', lag: null },
    ];
    t.topology.membersPolledAt = t.now;
    await t.tick();
    expect(t.checker.calls).toEqual([]);
    expect(t.row(1)).toMatchObject({ role: 'primary', state: 'up', lagBytes: 0 });
    expect(t.row(2)).toMatchObject({ role: 'standby', lagBytes: 5000, lagMs: null, lagging: true });
    expect(t.row(3)).toMatchObject({ state: 'banned', banReason: 'health check failed: Patroni reports it stopped' });

    // Patroni's word bans for two polls, not server_ban_time: once it reports the member streaming, the probe brings it back
    expect(t.row(3).bannedUntil).toBe(t.now + 2000);
    t.topology.members = [...t.topology.members.slice(0, 2), { name: 'n3', host: 'h', port: 3, role: 'replica', state: 'streaming', lag: 0 }];
    t.topology.membersPolledAt = t.now + 2000;
    await t.tick(2000);
    expect(t.row(3)).toMatchObject({ state: 'up', role: 'standby' });
    expect(t.checker.calls).toEqual([]);

    // Patroni has not answered for a while: a login tells instead
    t.checker.answers.set(1, primary(9000n)).set(2, standby(8900n)).set(3, standby(8900n));
    await t.tick(4000);
    expect(t.checker.calls.sort()).toEqual(['status 1', 'status 2', 'status 3']);
    expect(t.row(2)).toMatchObject({ lagBytes: 100, lagging: false });
  });
});
