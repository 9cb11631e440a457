// Following a Patroni-managed primary: a real etcd + three Patroni 3 nodes (deploy/patroni), 50
// clients writing through pooler while the leader is killed with SIGKILL, then while it is switched
// over. Only transactions in flight may fail, cleanly; writes resume on the new leader; every
// acknowledged write is on it exactly once, and none ever went to a replica.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatroniCluster } from './support/patroni-cluster.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';
import { errorsBetweenTransactions, failoverFigures, startWriteLoad, uncleanErrors, type LoadReport } from './support/write-load.js';

let cluster: PatroniCluster;
let pooler: PoolerProcess;
const acknowledged: string[] = [];

async function onPort(port: number, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cluster = await PatroniCluster.start();
  const leader = await cluster.waitForLeader(null, 30_000);
  await onPort(leader.port, 'CREATE TABLE acked (id text PRIMARY KEY, client int)');
  // a replica still catching up could be promoted without the table (Patroni allows up to 1 MB
  // of lag before a synchronous standby exists), which would be a broken test, not a failover
  for (const node of cluster.nodes) {
    const deadline = Date.now() + 60_000;
    while (!(await onPort(node.pgPort, "SELECT to_regclass('acked') IS NOT NULL AS ok").catch(() => ({ rows: [{ ok: false }] }))).rows[0].ok) {
      if (Date.now() > deadline) throw new Error(`${node.name} never got the table acked`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', pool_mode: 'transaction', default_pool_size: 5, patroni_poll_interval: 1, failover_wait_timeout: 60 },
    databases: { app: `dbname=postgres patroni=${cluster.apiUrls.join(',')}` },
  });
}, 180_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stop();
});

/** load for 2 s, do `disrupt`, wait for the new leader and 2 s of writes on it, and report */
async function underLoad(label: string, disrupt: (leader: string) => Promise<void> | void, leaderTimeoutMs: number): Promise<{ report: LoadReport; firstWriteMs: number | null }> {
  const before = await cluster.waitForLeader(null, 30_000);
  // only then does Patroni promote a standby that has every acknowledged commit
  await cluster.waitForSyncStandby(60_000);
  const load = startWriteLoad(pooler.url('app'), 50, 'acked');
  // after a failover the new leader may wait for a synchronous standby before commits return
  const warm = Date.now() + 30_000;
  while (load.report.acknowledged.length === 0 && Date.now() < warm) await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect(load.report.acknowledged.length).toBeGreaterThan(0);
  await disrupt(before.name);
  const promoted = await cluster.waitForLeader(before.name, leaderTimeoutMs);
  const deadline = Date.now() + 20_000;
  while (!load.report.acknowledged.some((a) => a.at > promoted.at) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const report = await load.stop();
  acknowledged.push(...report.acknowledged.map((a) => a.id));
  const figures = failoverFigures(`${label} (${before.name} -> ${promoted.name})`, report, promoted.at);
  console.log(figures.line);
  return { report, firstWriteMs: figures.firstWriteMs };
}

describe('a Patroni cluster behind pooler', () => {
  it('routes to the leader Patroni names, and shows the members in SHOW TOPOLOGY', async () => {
    const leader = await cluster.waitForLeader(null, 30_000);
    const client = new pg.Client({ connectionString: pooler.url('app') });
    await client.connect();
    const { rows } = await client.query("SELECT pg_is_in_recovery() AS r, current_setting('port')::int AS port");
    await client.end();
    expect(rows[0]).toEqual({ r: false, port: leader.port });
    const console = new pg.Client({ connectionString: pooler.url('pgbouncer') });
    await console.connect();
    const topology = (await console.query('SHOW TOPOLOGY')).rows;
    expect(topology.map((row) => row.member).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(topology.find((row) => row.current === 'yes')).toMatchObject({ member: leader.name, discovery: 'patroni' });
    // every member with the host monitor's view of it, replicas included (judged from Patroni's answer)
    const checked = await waitUntil(
      async () => (await console.query('SHOW TOPOLOGY')).rows,
      (rows) => rows.every((row) => row.checked_role === 'primary' || row.checked_role === 'standby'),
      'every member checked',
    );
    await console.end();
    for (const row of checked) {
      expect(row).toMatchObject({ checked_role: row.member === leader.name ? 'primary' : 'standby', health: 'up' });
    }
  });

  it('asks Patroni again at once when a server refuses a write as read-only (25006)', async () => {
    const verbose = await startPooler({
      settings: { auth_type: 'trust', pool_mode: 'transaction', patroni_poll_interval: 60, verbose: 1 },
      databases: { app: `dbname=postgres patroni=${cluster.apiUrls.join(',')}` },
    });
    try {
      const client = new pg.Client({ connectionString: verbose.url('app') });
      await client.connect();
      await client.query('BEGIN READ ONLY');
      await expect(client.query("INSERT INTO acked VALUES ('read-only', 0)")).rejects.toMatchObject({ code: '25006' });
      await client.query('ROLLBACK');
      await client.end();
      const reChecked = async () => readFileSync(verbose.logFile, 'utf8').split('\n').some((line) => line.includes('topology re-check') && line.includes('answered 25006'));
      await waitUntil(reChecked, (found) => found, 'a logged re-check for the 25006');
    } finally {
      await verbose.stop();
    }
  });

  it('follows the leader’s death (Patroni and PostgreSQL killed): writes resume within 2 s of the promotion', async () => {
    const { report, firstWriteMs } = await underLoad('node death', (leader) => cluster.killNode(leader), 60_000);
    expect(firstWriteMs).not.toBeNull();
    expect(firstWriteMs!).toBeLessThan(2000);
    expect(report.errors.length).toBeLessThanOrEqual(50);
    expect(uncleanErrors(report)).toEqual([]);
    expect(errorsBetweenTransactions(report)).toEqual([]);
  });

  it('follows a planned switchover under load: only in-flight transactions fail, cleanly', async () => {
    const { report, firstWriteMs } = await underLoad('switchover', (leader) => cluster.switchover(leader), 60_000);
    expect(firstWriteMs).not.toBeNull();
    expect(report.errors.length).toBeLessThanOrEqual(50);
    expect(uncleanErrors(report)).toEqual([]);
    expect(errorsBetweenTransactions(report)).toEqual([]);
  });

  it('has every acknowledged write on the current leader exactly once, and never wrote to a replica', async () => {
    const leader = await cluster.waitForLeader(null, 30_000);
    const { rows } = await onPort(leader.port, 'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM acked WHERE id = ANY($1)', [acknowledged]);
    expect(rows[0]).toEqual({ n: acknowledged.length, d: acknowledged.length });
  });
});
