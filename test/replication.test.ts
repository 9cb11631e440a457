// The replication harness against real PostgreSQL: a primary and two standbys from pg_basebackup -R.
// Writes reach both standbys; a paused standby goes stale and its lag (replica-lag.ts) grows;
// resuming, or restarting a stopped standby, catches up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasReplayed } from '../src/failover/replica-lag.js';
import { ReplicationCluster } from './support/replication.js';

let cluster: ReplicationCluster;

const ids = async (node: 'primary' | number): Promise<number[]> =>
  (await cluster.query<{ id: number }>(node, 'SELECT id FROM t ORDER BY id')).map((r) => r.id);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  await cluster.query('primary', 'CREATE TABLE t (id int PRIMARY KEY, pad text)');
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('a primary and two streaming standbys', () => {
  it('are a primary and two hot standbys', async () => {
    expect((await cluster.query('primary', 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(false);
    for (const i of [0, 1]) expect((await cluster.status(i)).inRecovery).toBe(true);
  });

  it('show a row written on the primary on both standbys once caught up', async () => {
    await cluster.query('primary', 'INSERT INTO t VALUES (1)');
    await cluster.waitCaughtUp();
    expect(await ids(0)).toEqual([1]);
    expect(await ids(1)).toEqual([1]);
    expect(await cluster.lagBytes(0)).toBe(0);
  });

  it('keep a paused standby stale, with growing lag, until replay resumes', async () => {
    await cluster.pauseReplay(0);
    await cluster.query('primary', 'INSERT INTO t VALUES (2)');
    const commit = await cluster.primaryLsn();
    await cluster.waitCaughtUp([1]);
    expect(await ids(1)).toEqual([1, 2]);
    expect(await ids(0)).toEqual([1]);
    expect(hasReplayed((await cluster.status(0)).replayLsn, commit)).toBe(false);
    expect(hasReplayed((await cluster.status(1)).replayLsn, commit)).toBe(true);

    const lag = await cluster.lagBytes(0);
    expect(lag).toBeGreaterThan(0);
    await cluster.query('primary', "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(3, 2000) g");
    expect(await cluster.lagBytes(0)).toBeGreaterThan(lag + 100_000);
    // the standby has received what it does not replay, so its replay delay counts
    await until('the paused standby reports a replay delay', async () => (await cluster.status(0)).replayDelayMs > 0);

    await cluster.resumeReplay(0);
    await cluster.waitCaughtUp();
    expect(await ids(0)).toHaveLength(2000);
    expect(await cluster.lagBytes(0)).toBe(0);
    expect((await cluster.status(0)).replayDelayMs).toBe(0);
  });

  it('bring a stopped standby back, and it catches up with what it missed', async () => {
    await cluster.stop(1);
    await expect(cluster.query(1, 'SELECT 1')).rejects.toThrow();
    await cluster.query('primary', 'INSERT INTO t VALUES (2001)');
    await cluster.start(1);
    await cluster.waitCaughtUp();
    expect((await ids(1)).at(-1)).toBe(2001);
  });
});
