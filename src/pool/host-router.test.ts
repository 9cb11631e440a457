// Host pools of a replica entry over fake servers: which host each transaction's server is on, by
// load_balance; that a banned or refusing host gets nothing; prefer-standby's fall back to the
// primary; and the passive health and transaction times fed to the host monitor. Issue 20, item 1.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clock } from '../clock.js';
import type { LoadBalance, TargetSessionAttrs } from '../config/types.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress } from '../failover/topology.js';
import { loadClassifier } from '../sql/index.js';
import { loggedInClient, monitoredHosts, poolRig, settleAll, type FakeSocket, type PoolRig, type RigHosts } from '../testing/pool-rig.js';
import { wire } from '../testing/wire.js';

const Query = (sql: string) => wire().cstring(sql).message('Q');
const Ready = (status: 'I' | 'T') => wire().bytes(status).message('Z');
const Complete = (tag: string) => wire().cstring(tag).message('C');

const PRIMARY = 5000;
const S1 = 5001;
const S2 = 5002;

beforeAll(() => loadClassifier());
afterEach(() => {
  vi.useRealTimers();
  clock.refresh();
});

interface Setup {
  rig: PoolRig;
  monitored: Map<number, MonitoredHost>;
}

/** a primary and two standbys (listed in that order), each with a MonitoredHost that bans after 3 failures */
async function setup(load_balance: LoadBalance, options: Partial<RigHosts> & { wants?: TargetSessionAttrs; refuse?: number; patroni?: boolean } = {}): Promise<Setup> {
  const monitored = monitoredHosts([PRIMARY, S1, S2]);
  const rig = poolRig(
    'transaction',
    {},
    {
      hosts: [PRIMARY, S1, S2].map((port) => ({ port, standby: port !== PRIMARY, refuses: port === options.refuse })),
      target_session_attrs: options.wants ?? 'standby',
      load_balance,
      pool_size: options.pool_size ?? 2,
      ...(options.weight ? { weight: options.weight } : {}),
      monitored: (address: ServerAddress) => monitored.get(address.port) ?? null,
      ...(options.patroni ? { patroni: true } : {}),
    },
  );
  return { rig, monitored };
}

/** send `sql` and answer it with `status` from whichever server got it: that server's port */
async function send(rig: PoolRig, socket: FakeSocket, sql: string, status: 'I' | 'T'): Promise<number> {
  socket.feed(Query(sql));
  await settleAll();
  const at = rig.servers.findIndex((s) => s.take().toString('latin1').includes(sql));
  expect(at, `a server got "${sql}"`).toBeGreaterThanOrEqual(0);
  rig.servers[at]!.feed(Buffer.concat([Complete('SELECT 1'), Ready(status)]));
  socket.take();
  return rig.serverPorts[at]!;
}

/** run `n` one-statement transactions one after another: the port of each */
async function transactions(rig: PoolRig, socket: FakeSocket, n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await send(rig, socket, `select ${i}`, 'I'));
  return ports;
}

const count = (ports: number[], port: number) => ports.filter((p) => p === port).length;

describe('host pools of a replica entry', () => {
  it('round_robin alternates between the standbys; the primary, learnt at its login, gets nothing', async () => {
    const { rig } = await setup('round_robin');
    const ports = await transactions(rig, await loggedInClient(rig), 10);
    expect(count(ports, PRIMARY)).toBe(0);
    expect(count(ports, S1)).toBe(5);
    expect(count(ports, S2)).toBe(5);
    for (let i = 1; i < ports.length; i++) expect(ports[i]).not.toBe(ports[i - 1]);
    // the primary's server was opened once, found to be a primary and closed
    expect(count(rig.serverPorts, PRIMARY)).toBe(1);
    expect(rig.pool.serverCount).toBe(2);
  });

  it('weighted_round_robin follows weight=', async () => {
    const { rig } = await setup('weighted_round_robin', { weight: [1, 3, 1] });
    const ports = await transactions(rig, await loggedInClient(rig), 8);
    expect([count(ports, S1), count(ports, S2)]).toEqual([6, 2]);
  });

  it('least_connections sends a transaction to the standby with fewer active servers', async () => {
    const { rig } = await setup('least_connections');
    const a = await loggedInClient(rig);
    const b = await loggedInClient(rig);
    const c = await loggedInClient(rig);
    const first = await send(rig, a, 'begin', 'T');
    const second = await send(rig, b, 'begin', 'T');
    expect(second).not.toBe(first);
    await send(rig, a, 'commit', 'I');
    // a's standby has no active server now, b's has one
    expect(await send(rig, c, 'select 1', 'I')).toBe(first);
  });

  it('least_response_time prefers the standby with the shorter average transaction time', async () => {
    const { rig, monitored } = await setup('least_response_time');
    // far apart: the rig's own transactions take real milliseconds, and averages fade over the test's few hundred ms
    monitored.get(S1)!.transactionDone(200);
    monitored.get(S2)!.transactionDone(2);
    const ports = await transactions(rig, await loggedInClient(rig), 6);
    expect(count(ports, S2)).toBe(6);
  });

  it('power_of_two: of the two standbys, the less loaded wins', async () => {
    const { rig } = await setup('power_of_two');
    const a = await loggedInClient(rig);
    const b = await loggedInClient(rig);
    for (let i = 0; i < 5; i++) {
      const held = await send(rig, a, 'begin', 'T');
      expect(await send(rig, b, 'select 1', 'I')).not.toBe(held);
      await send(rig, a, 'commit', 'I');
    }
  });

  it('a banned standby gets no transaction, though it has an idle server', async () => {
    const { rig, monitored } = await setup('round_robin');
    const socket = await loggedInClient(rig);
    expect(new Set(await transactions(rig, socket, 4))).toEqual(new Set([S1, S2]));
    const s2 = monitored.get(S2)!;
    for (let i = 0; i < 3; i++) s2.failed('test');
    expect(s2.usable).toBe(false);
    expect(await transactions(rig, socket, 6)).toEqual([S1, S1, S1, S1, S1, S1]);
  });

  it('a standby that refuses connections: transactions go to the other, and its failures ban it (passive health)', async () => {
    const { rig, monitored } = await setup('round_robin', { refuse: S2 });
    vi.useFakeTimers({ toFake: ['Date'] });
    const socket = await loggedInClient(rig);
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      ports.push(await send(rig, socket, `select ${i}`, 'I'));
      // past the pause after each refused login, so the balancer tries it again
      vi.setSystemTime(Date.now() + 1000);
      clock.refresh();
    }
    expect(count(ports, S1)).toBe(6);
    expect(monitored.get(S2)!.health.state).toBe('banned');
    expect(monitored.get(S1)!.health.failures).toBe(0);
  });

  it('prefer-standby falls back to the primary only while no standby is usable', async () => {
    const { rig, monitored } = await setup('round_robin', { wants: 'prefer-standby' });
    const socket = await loggedInClient(rig);
    await transactions(rig, socket, 3);
    for (const port of [S1, S2]) for (let i = 0; i < 3; i++) monitored.get(port)!.failed('test');
    expect(await transactions(rig, socket, 3)).toEqual([PRIMARY, PRIMARY, PRIMARY]);
  });

  it('a connection lost mid-transaction fails that client only and counts against its host', async () => {
    const { rig, monitored } = await setup('round_robin');
    const a = await loggedInClient(rig);
    const b = await loggedInClient(rig);
    const held = await send(rig, a, 'begin', 'T');
    const other = await send(rig, b, 'begin', 'T');
    rig.servers[rig.serverPorts.lastIndexOf(held)]!.destroy();
    await settleAll();
    expect(a.take().toString('latin1')).toContain('server');
    expect(monitored.get(held)!.health.failures).toBe(1);
    expect(await send(rig, b, 'commit', 'I')).toBe(other);
  });

  it('pool_size is per host: with one server a host, a third transaction waits for one of them', async () => {
    const { rig } = await setup('round_robin', { pool_size: 1 });
    const [a, b, c] = [await loggedInClient(rig), await loggedInClient(rig), await loggedInClient(rig)];
    await send(rig, a, 'begin', 'T');
    await send(rig, b, 'begin', 'T');
    c.feed(Query('select 3'));
    await settleAll();
    expect(rig.pool.waitingClients.size).toBe(1);
    // c waits for the host the balancer chose for it, which frees when one of the two commits
    await send(rig, a, 'commit', 'I');
    if (rig.pool.waitingClients.size === 1) await send(rig, b, 'commit', 'I');
    expect(rig.pool.waitingClients.size).toBe(0);
    expect(rig.pool.serverCount).toBe(2);
  });

  it('feeds each transaction to its host (SHOW HOSTS transactions, avg_xact_us)', async () => {
    const { rig, monitored } = await setup('round_robin');
    await transactions(rig, await loggedInClient(rig), 4);
    expect([monitored.get(S1)!.transactions, monitored.get(S2)!.transactions]).toEqual([2, 2]);
  });

  it('RELOAD keeps the host pools when the hosts and load_balance stay, and reconnects when they change', async () => {
    const { rig } = await setup('round_robin');
    await transactions(rig, await loggedInClient(rig), 2);
    expect(rig.pool.idleServers.size).toBe(2);
    rig.pool.updateDatabase({ ...rig.pool.database }, false);
    expect(rig.pool.idleServers.size).toBe(2);
    rig.pool.updateDatabase({ ...rig.pool.database, load_balance: 'least_connections' }, false);
    expect(rig.pool.serverCount).toBe(0);
  });

  it('load_balance = first keeps today\'s single target: every transaction on the first host', async () => {
    const { rig } = await setup('first', { wants: 'any' });
    const ports = await transactions(rig, await loggedInClient(rig), 4);
    expect(ports).toEqual([PRIMARY, PRIMARY, PRIMARY, PRIMARY]);
  });
});

describe("host pools of Patroni's replicas", () => {
  it('balances over the replicas Patroni lists, following members that leave and join without a reload', async () => {
    const { rig } = await setup('round_robin', { patroni: true });
    const socket = await loggedInClient(rig);
    const ports = await transactions(rig, socket, 4);
    expect([count(ports, S1), count(ports, S2), count(ports, PRIMARY)]).toEqual([2, 2, 0]);
    // S2 leaves the member list (a new array, as each poll that changes it makes)
    rig.topology.replicas = [{ host: '127.0.0.1', port: S1 }];
    expect(await transactions(rig, socket, 4)).toEqual([S1, S1, S1, S1]);
    rig.topology.replicas = [{ host: '127.0.0.1', port: S1 }, { host: '127.0.0.1', port: S2 }];
    expect(count(await transactions(rig, socket, 4), S2)).toBe(2);
  });

  it('balances even with load_balance = first, which takes the first replica listed', async () => {
    const { rig } = await setup('first', { patroni: true });
    expect(await transactions(rig, await loggedInClient(rig), 3)).toEqual([S1, S1, S1]);
  });

  it('prefer-standby falls back to the leader only while no replica can serve', async () => {
    const { rig, monitored } = await setup('round_robin', { patroni: true, wants: 'prefer-standby' });
    const socket = await loggedInClient(rig);
    monitored.get(PRIMARY)!.role = 'primary';
    expect(count(await transactions(rig, socket, 4), PRIMARY)).toBe(0);
    rig.topology.replicas = [];
    expect(await transactions(rig, socket, 2)).toEqual([PRIMARY, PRIMARY]);
  });
});
