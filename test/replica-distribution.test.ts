// Each load_balance algorithm against a real primary and two streaming standbys: 10 000 transactions
// of 10 clients per entry, counted by the standby that ran them, against what the algorithm's
// definition implies; then with standby 2 behind a proxy delaying its replies 20 ms, where
// round_robin runs 6 000 (it keeps half on the slow host: ~10 s at 10 000, over this file's budget).
// Issue 20, item 8.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { ReplicationCluster } from './support/replication.js';
import { waitUntil } from './support/wait.js';

const CLIENTS = 10;
const TRANSACTIONS = 10_000;
const SLOW_MS = 20;
/**
 * round_robin with a slow host: half its transactions wait SLOW_MS each, 10 at a time, so a run
 * takes at least n / 2 × 20 ms / 10: 6 000 is ~6 s where 10 000 would be ~10 s
 */
const SLOW_ROUND_ROBIN = 6_000;
const SQL = 'select inet_server_port() as port';

let cluster: ReplicationCluster;
let proxy: FaultProxy;
let pooler: PoolerProcess;

interface Counts {
  primary: number;
  s1: number;
  s2: number;
  errors: string[];
  ms: number;
}

/** the entries balanced over the standbys; `slow_*` reach standby 2 through the delaying proxy */
const BALANCED = ['round_robin', 'weighted_round_robin', 'least_connections', 'least_response_time', 'power_of_two'] as const;
const SLOWED = ['round_robin', 'least_response_time', 'power_of_two'] as const;

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  proxy = await startFaultProxy({ host: '127.0.0.1', port: cluster.standbys[1]!.port });
  proxy.set('down', { kind: 'latency', ms: SLOW_MS });
  const p = cluster.primary.port;
  const s1 = cluster.standbys[0]!.port;
  const s2 = cluster.standbys[1]!.port;
  // pool_size is per host: one server per client on each, so no client ever queues for a full
  // host and the picks alone decide where transactions go (and the slow host is not capped below 10)
  const entry = (ports: number[], mode: string, extra = '') =>
    `host=127.0.0.1,127.0.0.1,127.0.0.1 port=${ports.join(',')} dbname=postgres target_session_attrs=standby load_balance=${mode} pool_size=${CLIENTS}${extra}`;
  const databases: Record<string, string> = {};
  for (const mode of BALANCED) databases[mode] = entry([p, s1, s2], mode, mode === 'weighted_round_robin' ? ' weight=1,3,1' : '');
  databases.first = entry([p, s1, s2], 'first');
  for (const mode of SLOWED) databases[`slow_${mode}`] = entry([p, s1, proxy.port], mode);
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', pool_mode: 'transaction', server_tls_sslmode: 'disable' },
    databases,
  });
}, 90_000);

afterAll(async () => {
  await pooler?.stop();
  await proxy?.close();
  await cluster?.stopAll();
});

interface HostRow {
  database: string;
  port: number;
  transactions: unknown;
  avg_xact_us: unknown;
}

async function showHosts(database?: string): Promise<HostRow[]> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer', 'postgres') });
  await admin.connect();
  try {
    const rows = (await admin.query<HostRow>('SHOW HOSTS')).rows;
    return database === undefined ? rows : rows.filter((r) => r.database === database);
  } finally {
    await admin.end();
  }
}

/** `n` transactions of CLIENTS clients through entry `database`, counted by the port that ran each */
async function run(database: string, n = TRANSACTIONS): Promise<Counts> {
  const counts: Counts = { primary: 0, s1: 0, s2: 0, errors: [], ms: 0 };
  const ports = new Map<number, 'primary' | 's1' | 's2'>([
    [cluster.primary.port, 'primary'],
    [cluster.standbys[0]!.port, 's1'],
    [cluster.standbys[1]!.port, 's2'],
  ]);
  let left = n;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new pg.Client({ connectionString: pooler.url(database, 'postgres') });
      await client.connect();
      try {
        while (left-- > 0) {
          try {
            const port = (await client.query<{ port: number }>(SQL)).rows[0]!.port;
            const where = ports.get(port);
            if (where === undefined) counts.errors.push(`unknown port ${port}`);
            else counts[where]++;
          } catch (error) {
            counts.errors.push((error as Error).message);
          }
        }
      } finally {
        await client.end();
      }
    }),
  );
  counts.ms = Date.now() - started;
  console.log(`${database}: standby 1 ${counts.s1}, standby 2 ${counts.s2}, primary ${counts.primary}, errors ${counts.errors.length}, ${counts.ms} ms`);
  return counts;
}

/** what every run must show: all transactions answered, on a standby */
function allOnStandbys(c: Counts, n = TRANSACTIONS): void {
  expect(c.errors).toEqual([]);
  expect(c.primary).toBe(0);
  expect(c.s1 + c.s2).toBe(n);
}

/** standby 1's share of the transactions is within [low, high] */
function expectShare(c: Counts, low: number, high: number): void {
  expect(c.s1 / TRANSACTIONS).toBeGreaterThanOrEqual(low);
  expect(c.s1 / TRANSACTIONS).toBeLessThanOrEqual(high);
}

const slowRuns = new Map<string, Counts>();

describe('load_balance over two equal standbys', () => {
  beforeAll(async () => {
    // the host monitor makes its hosts at its first tick, and transactions before it are not counted per host
    const entries = [...BALANCED, 'first', ...SLOWED.map((m) => `slow_${m}`)];
    await waitUntil(
      () => showHosts(),
      (rows) => entries.every((db) => rows.filter((r) => r.database === db).length === 3),
      'three hosts of every entry in SHOW HOSTS',
    );
  }, 20_000);

  it('round_robin alternates: an even split', async () => {
    const c = await run('round_robin');
    allOnStandbys(c);
    // Picks alternate strictly between the usable standbys, whatever their speed; a pick that
    // carries no transaction (the first login's, one landing on the primary before its role is
    // known, a re-pick after a failed login) moves the alternation by one. Those happen at warm-up,
    // a few per client at most: 100 (1 %) is generous for them, and far below the 40-60 % that a
    // balancer merely "roughly even" would be allowed.
    expect(Math.abs(c.s1 - c.s2)).toBeLessThanOrEqual(100);
  }, 40_000);

  it('weighted_round_robin with weight=1,3,1: standby 1 gets three for each one of standby 2', async () => {
    const c = await run('weighted_round_robin');
    allOnStandbys(c);
    // Smooth weighted round robin is exact over each cycle of 3 + 1 picks (the primary's weight
    // counts only while it is a candidate, before its role is known); the same warm-up picks
    // without a transaction as for round_robin shift it by at most ~1 %.
    expect(Math.abs(c.s1 - 0.75 * TRANSACTIONS)).toBeLessThanOrEqual(100);
    // SHOW HOSTS counts each transaction on the host that ran it
    const hosts = await showHosts('weighted_round_robin');
    const counted = (port: number) => Number(hosts.find((h) => h.port === port)!.transactions);
    expect([counted(cluster.primary.port), counted(cluster.standbys[0]!.port), counted(cluster.standbys[1]!.port)]).toEqual([0, c.s1, c.s2]);
  }, 40_000);

  it('least_connections over equal hosts: about even', async () => {
    const c = await run('least_connections');
    allOnStandbys(c);
    // The host with fewer transactions running wins, ties rotate. Nothing distinguishes identical
    // standbys, so the split is even on average; but they are two processes on a shared, busy
    // machine, and one that is descheduled for a while rightly holds more connections and gets
    // fewer transactions meanwhile. 40-60 % leaves room for that and still fails a balancer that
    // favours one host by design.
    expectShare(c, 0.4, 0.6);
  }, 40_000);

  it('least_response_time over equal hosts: a 2 s query on one does not leave it starved afterwards', async () => {
    // one slow transaction lands on one standby and lifts its average far above the other's
    const slow = new pg.Client({ connectionString: pooler.url('least_response_time', 'postgres') });
    await slow.connect();
    const slowPort = (await slow.query<{ port: number }>('select pg_sleep(2), inet_server_port() as port')).rows[0]!.port;
    await slow.end();
    const c = await run('least_response_time');
    allOnStandbys(c);
    // The lowest (active + 1) × average time wins. Averages fade while a host gets no transaction
    // (moving-average.ts), so the slowed one is tried again within seconds and its ~1 ms answers
    // bring it back. Before that, it got 3 of the next 10 000. Identical standbys on a busy shared
    // machine still differ from moment to moment (a descheduled one is slow for a while, rightly),
    // so a fifth is the floor asserted, not an even split.
    const share = (slowPort === cluster.standbys[0]!.port ? c.s1 : c.s2) / TRANSACTIONS;
    expect(share).toBeGreaterThanOrEqual(0.2);
    expectShare(c, 0.2, 0.8);
  }, 40_000);

  it('power_of_two over equal hosts: both used, neither starved', async () => {
    const c = await run('power_of_two');
    allOnStandbys(c);
    // With two usable hosts both are drawn every time: fewer active wins, ties go to the lower
    // average. Counts tie often with ~1 ms transactions, and a stale average (see
    // least_response_time) sends every tie the same way, so the split can be well off even (runs
    // gave 48/52, 52/48 and 31/69). But the count decides first: the host that wins the ties holds
    // more connections and then loses, so neither can be left out as least_response_time can
    // leave one; under 10 % would mean that had failed.
    expectShare(c, 0.1, 0.9);
  }, 40_000);

  it('first: every transaction on the first standby', async () => {
    const c = await run('first');
    allOnStandbys(c);
    // no balancing: the host list in order, the primary refused for target_session_attrs=standby
    expect(c.s1).toBe(TRANSACTIONS);
  }, 40_000);
});

describe(`standby 2 slowed by ${SLOW_MS} ms a reply`, () => {
  it('round_robin ignores speed: still an even split', async () => {
    const c = await run('slow_round_robin', SLOW_ROUND_ROBIN);
    allOnStandbys(c, SLOW_ROUND_ROBIN);
    slowRuns.set('round_robin', c);
    // the same alternation as with equal hosts: speed is not an input
    expect(Math.abs(c.s1 - c.s2)).toBeLessThanOrEqual(100);
  }, 40_000);

  for (const mode of ['least_response_time', 'power_of_two'] as const) {
    it(`${mode} sends the slow standby clearly fewer transactions`, async () => {
      const c = await run(`slow_${mode}`);
      allOnStandbys(c);
      slowRuns.set(mode, c);
      // A transaction there takes 20 ms more than the ~1 ms one on standby 1, so a balancer that
      // weighs speed (the average directly, or active connections, which a slow host keeps
      // longer) sends it a small share: under a fifth of standby 1's is far from the even split
      // and still leaves room for a busy machine slowing standby 1 now and then.
      expect(c.s2).toBeLessThan(c.s1 / 5);
      // and under half the share round_robin gave it (a half)
      const rr = slowRuns.get('round_robin');
      if (rr !== undefined) expect(c.s2 / TRANSACTIONS).toBeLessThan(rr.s2 / SLOW_ROUND_ROBIN / 2);
    }, 40_000);
  }
});
