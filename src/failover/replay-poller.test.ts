// The replay poll on a hand-turned clock with a fake connector: which hosts it polls, one
// persistent connection and one query out per host, a slow host skipped and given up on, backoff
// after failures, and connections closed when a host or database stops wanting the poll.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emptyDatabase } from '../config/databases.js';
import { defaultSettings } from '../config/settings.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import type { DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import type { MonitoredHosts } from './host-monitor.js';
import { MonitoredHost } from './monitored-host.js';
import { ReplayPoller, type ReplayConnection, type ReplayConnector } from './replay-poller.js';
import { Topology, type ServerAddress } from './topology.js';

class FakeConnection implements ReplayConnection {
  closed: DisconnectReason | null = null;
  /** the queries out, oldest first */
  readonly pending: { resolve: (lsn: bigint | null) => void; reject: (error: Error) => void }[] = [];
  queries = 0;

  constructor(readonly port: number) {}

  replayLsn(): Promise<bigint | null> {
    this.queries++;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  close(reason: DisconnectReason): void {
    this.closed ??= reason;
  }

  answer(lsn: bigint | null): void {
    this.pending.shift()!.resolve(lsn);
  }

  fail(message: string): void {
    this.pending.shift()!.reject(new Error(message));
  }
}

class FakeConnector implements ReplayConnector {
  readonly opened: FakeConnection[] = [];
  /** no login to use for these ports */
  readonly noLogin = new Set<number>();

  open(_database: DatabaseConfig, address: ServerAddress): ReplayConnection | null {
    if (this.noLogin.has(address.port)) return null;
    const connection = new FakeConnection(address.port);
    this.opened.push(connection);
    return connection;
  }

  /** the newest connection to `port` */
  to(port: number): FakeConnection {
    return this.opened.filter((c) => c.port === port).at(-1)!;
  }

  count(port: number): number {
    return this.opened.filter((c) => c.port === port).length;
  }
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(entry: Partial<DatabaseConfig> = {}, overrides: Partial<Settings> = {}) {
  const settings: Settings = { ...defaultSettings(), read_write_split: true, replica_lsn_poll_interval: 100, server_connect_timeout: 1000, ...overrides };
  const lines: { level: string; message: string }[] = [];
  const record = (level: string) => (_fields: unknown, message: string) => lines.push({ level, message });
  const log = { warn: record('warn'), info: record('info'), debug: record('debug') } as unknown as Logger;
  const hosts = [1, 2, 3].map((port) => ({ host: 'h', port }));
  const database: DatabaseConfig = { ...emptyDatabase('app'), host: 'h', port: 1, hosts, ...entry };
  const topology = new Topology(database, { pollInterval: 1000, log, onChange: () => {} });
  let now = 1_000_000;
  const policy = { banAfterFailures: 3, banTime: 5000, checkPeriod: 1000, maxLag: { bytes: 0, ms: 0 } };
  const monitored = hosts.map((address) => new MonitoredHost(address, policy, () => now, () => {}));
  const [first, second, third] = monitored as [MonitoredHost, MonitoredHost, MonitoredHost];
  first.role = 'primary';
  second.role = 'standby';
  const db: { topology: Topology; hosts: MonitoredHost[] } = { topology, hosts: monitored };
  const databases: MonitoredHosts[] = [db];
  const connector = new FakeConnector();
  const poller = new ReplayPoller({ log, connector, settings: () => settings, databases: () => databases, now: () => now });
  return {
    settings,
    lines,
    topology,
    db,
    databases,
    connector,
    poller,
    primary: first,
    standby: second,
    unknown: third,
    /** answers given since the last tick arrive, then the clock moves and the poller ticks */
    async tick(advance = 100) {
      await flush();
      now += advance;
      poller.tick();
      await flush();
    },
    get now() {
      return now;
    },
  };
}

describe('the replay poll', () => {
  it('polls every host but the primary over one connection each, and keeps the positions with when they were asked for', async () => {
    const t = setup();
    await t.tick();
    expect(t.connector.opened.map((c) => c.port)).toEqual([2, 3]);
    const asked = t.now;
    t.connector.to(2).answer(0x3000060n);
    t.connector.to(3).answer(0x3000000n);
    await t.tick();
    expect([t.standby.replayLsn, t.standby.replayLsnAt]).toEqual([0x3000060n, asked]);
    expect(t.unknown.replayLsn).toBe(0x3000000n);
    expect(t.primary.replayLsn).toBeNull();
    t.connector.to(2).answer(0x4000000n);
    t.connector.to(3).answer(0x4000000n);
    await t.tick();
    expect(t.standby.replayLsn).toBe(0x4000000n);
    // the same two connections, a query each per tick
    expect(t.connector.opened).toHaveLength(2);
    expect(t.connector.to(2).queries).toBe(3);
  });

  it('skips a host whose answer is still out without holding up the others, and gives up on it after server_connect_timeout', async () => {
    const t = setup();
    await t.tick();
    const slow = t.connector.to(3);
    for (let i = 0; i < 5; i++) {
      t.connector.to(2).answer(BigInt(i + 1));
      await t.tick();
    }
    expect(t.standby.replayLsn).toBe(5n);
    expect(slow.queries).toBe(1);
    expect(slow.closed).toBeNull();
    await t.tick(1000);
    expect(slow.closed).toBe('internal_query_timeout');
    expect(t.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'database app: host h:3: cannot read its replay position (no answer within 1s (server_connect_timeout)); until it can, reads that need it go to the primary',
    ]);
    // the late answer to the closed connection changes nothing
    slow.answer(99n);
    await t.tick(0);
    expect(t.unknown.replayLsn).toBeNull();
  });

  it('keeps the last position when a host stops answering, reconnects with a backoff no faster than the interval, and says once when it works again', async () => {
    const t = setup();
    t.db.hosts = [t.primary, t.standby];
    await t.tick();
    t.connector.to(2).answer(7n);
    await t.tick();
    t.connector.to(2).fail('server connection closed');
    await t.tick(0);
    expect(t.connector.to(2).closed).toBe('client_close');
    expect(t.standby.replayLsn).toBe(7n);
    // retries after 100, 200, 400 ms
    const attempts: number[] = [];
    for (let elapsed = 0; elapsed <= 1000; elapsed += 50) {
      const before = t.connector.count(2);
      await t.tick(50);
      if (t.connector.count(2) > before) {
        attempts.push(elapsed + 50);
        t.connector.to(2).fail('connection refused');
        await t.tick(0);
      }
    }
    expect(attempts).toEqual([100, 300, 700]);
    expect(t.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    for (let i = 0; i < 20 && t.connector.to(2).pending.length === 0; i++) await t.tick(100);
    t.connector.to(2).answer(8n);
    await t.tick(0);
    expect(t.standby.replayLsn).toBe(8n);
    expect(t.lines.filter((l) => l.level === 'info').map((l) => l.message)).toEqual(['database app: host h:2: replay position read again']);
  });

  it('closes the connection of a host that became the primary or left, and of every host once the database stops wanting positions', async () => {
    const t = setup();
    await t.tick();
    const [two, three] = [t.connector.to(2), t.connector.to(3)];
    t.standby.role = 'primary';
    // an answer sent before the check found it promoted does not give the primary a position
    two.answer(9n);
    await t.tick();
    expect(t.standby.replayLsn).toBeNull();
    expect(two.closed).toBe('client_close');
    t.db.hosts = [t.primary, t.standby];
    await t.tick();
    expect(three.closed).toBe('client_close');
    t.standby.role = 'standby';
    await t.tick();
    const again = t.connector.to(2);
    expect(again).not.toBe(two);
    t.settings.read_write_split = false;
    await t.tick();
    expect(again.closed).toBe('client_close');
    await t.tick();
    expect(t.connector.opened).toHaveLength(3);
  });

  it('polls nothing for a database with read_your_writes = off, or read_write_split off, whatever the global setting says', async () => {
    const off = setup({ read_your_writes: 'off' });
    await off.tick();
    const split = setup({ read_write_split: false });
    await split.tick();
    expect([off.connector.opened, split.connector.opened]).toEqual([[], []]);
    const on = setup({ read_write_split: true }, { read_write_split: false });
    await on.tick();
    expect(on.connector.opened).toHaveLength(2);
  });

  it('logs in again with the entry RELOAD made, and waits one interval when there is nobody to log in as', async () => {
    const t = setup();
    t.connector.noLogin.add(3);
    await t.tick();
    const first = t.connector.to(2);
    t.db.topology = new Topology({ ...t.topology.database, dbname: 'other' }, { pollInterval: 1000, log: {} as Logger, onChange: () => {} });
    await t.tick();
    expect(first.closed).toBe('config_changed');
    expect(t.connector.count(2)).toBe(2);
    expect(t.connector.count(3)).toBe(0);
  });

  it('closes everything on stop, and ignores the answers still out', async () => {
    const t = setup();
    await t.tick();
    t.poller.stop();
    expect(t.connector.opened.map((c) => c.closed)).toEqual(['shutdown', 'shutdown']);
    t.connector.to(2).answer(5n);
    await t.tick();
    expect(t.standby.replayLsn).toBeNull();
    expect(t.connector.opened).toHaveLength(2);
  });
});

describe('the poll timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every replica_lsn_poll_interval, read again each time, and at 0 not at all, closing its connections', async () => {
    vi.useFakeTimers();
    const t = setup();
    const tick = vi.spyOn(t.poller, 'tick');
    t.poller.start();
    vi.advanceTimersByTime(350);
    expect(tick).toHaveBeenCalledTimes(3);
    t.settings.replica_lsn_poll_interval = 1000;
    vi.advanceTimersByTime(1100);
    expect(tick).toHaveBeenCalledTimes(5);
    expect(t.connector.opened.map((c) => c.closed)).toEqual([null, null]);
    t.settings.replica_lsn_poll_interval = 0;
    vi.advanceTimersByTime(20_000);
    expect(tick).toHaveBeenCalledTimes(5);
    expect(t.connector.opened.map((c) => c.closed)).toEqual(['config_changed', 'config_changed']);
    t.poller.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
