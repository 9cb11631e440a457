// The replay poll against a real primary and two streaming standbys: with read_write_split on,
// SHOW HOSTS replay_lsn follows a standby's replay within a second of a write (health checks are an
// hour apart, so the poll is what moves it), stands still while replay is paused and moves on once
// resumed. One poll connection per standby, none once RELOAD turns the split off or the pooler stops.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAY_POLL_APPLICATION_NAME } from '../src/core/replay-connector.js';
import { parseLsn, PRIMARY_LSN_SQL } from '../src/failover/replica-lag.js';
import { createPooler, loadConfig } from '../src/index.js';
import { freePort } from '../src/net/free-port.js';
import { queryOnce } from './support/pg-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { ReplicationCluster, type Node } from './support/replication.js';
import { waitUntil } from './support/wait.js';

let cluster: ReplicationCluster;
let pooler: PoolerProcess;

const entry = (split: boolean) => {
  const ports = [cluster.primary.port, cluster.standbys[0]!.port, cluster.standbys[1]!.port].join(',');
  return `host=127.0.0.1,127.0.0.1,127.0.0.1 port=${ports} dbname=postgres user=postgres${split ? ' read_write_split=on' : ''}`;
};

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  await cluster.query('primary', 'CREATE TABLE ticks (n int)');
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', health_check_period: 3600, replica_lsn_poll_interval: '100ms' },
    databases: { app: entry(true) },
  });
}, 90_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stopAll();
});

const consoleQuery = <R extends Record<string, unknown>>(sql: string) => queryOnce<R>(pooler.url('pgbouncer'), sql);

type HostRow = { database: string; port: number; role: string; replay_lsn: string | null };

/** standby i's replay position as SHOW HOSTS has it */
async function shownReplay(i: number): Promise<bigint | null> {
  const rows = await consoleQuery<HostRow>('SHOW HOSTS');
  const row = rows.find((r) => r.database === 'app' && r.port === cluster.standbys[i]!.port);
  return row?.replay_lsn == null ? null : parseLsn(row.replay_lsn);
}

/** a commit on the primary, and the position a standby must replay to show it */
async function write(): Promise<bigint> {
  await cluster.query('primary', 'INSERT INTO ticks VALUES (1)');
  const [row] = await cluster.query<{ lsn: string }>('primary', PRIMARY_LSN_SQL);
  return parseLsn(row!.lsn);
}

/** the pooler's replay poll connections on a node */
async function pollConnections(node: Node): Promise<number> {
  const [row] = await cluster.query<{ n: number }>(node, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [REPLAY_POLL_APPLICATION_NAME]);
  return row!.n;
}

const allPollConnections = () => Promise.all((['primary', 0, 1] as const).map(pollConnections));

describe('the replay poll through the pooler process', () => {
  it('shows each standby reaching a write within a second, not while its replay is paused, and again once resumed', async () => {
    await waitUntil(() => Promise.all([shownReplay(0), shownReplay(1)]), (lsns) => lsns.every((l) => l !== null), 'both standbys with a replay position');
    const rows = await consoleQuery<HostRow>('SHOW HOSTS');
    expect(Object.keys(rows[0]!).at(-1)).toBe('replay_lsn');
    expect(rows.find((r) => r.port === cluster.primary.port)).toMatchObject({ role: 'primary', replay_lsn: null });

    const first = await write();
    const started = Date.now();
    await waitUntil(() => Promise.all([shownReplay(0), shownReplay(1)]), (lsns) => lsns.every((l) => l !== null && l >= first), 'both standbys past the write', 1000);
    const reached = Date.now() - started;

    await cluster.pauseReplay(0);
    try {
      const before = await shownReplay(0);
      const second = await write();
      // standby 1 goes on replaying, and the pooler sees it; standby 0 stays where it stopped
      await waitUntil(() => shownReplay(1), (lsn) => lsn !== null && lsn >= second, 'standby 1 past the second write', 1000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const paused = await shownReplay(0);
      expect(paused).toBe(before);
      expect(paused! < second).toBe(true);
      await cluster.resumeReplay(0);
      const resumed = Date.now();
      await waitUntil(() => shownReplay(0), (lsn) => lsn !== null && lsn >= second, 'standby 0 past the second write once resumed', 1000);
      console.log(`replay poll: a write shown for both standbys after ${reached} ms; a paused standby's position shown ${Date.now() - resumed} ms after resuming`);
    } finally {
      await cluster.resumeReplay(0);
    }
  });

  it('keeps one connection per standby and none to the primary, and closes them when RELOAD turns read_write_split off', async () => {
    await waitUntil(allPollConnections, (n) => n.join() === '0,1,1', 'one poll connection per standby');
    const ini = join(pooler.dir, 'pooler.ini');
    const text = readFileSync(ini, 'utf8');
    writeFileSync(ini, text.replace(entry(true), entry(false)));
    await consoleQuery('RELOAD');
    await waitUntil(allPollConnections, (n) => n.join() === '0,0,0', 'no poll connection after RELOAD', 3000);
    writeFileSync(ini, text);
    await consoleQuery('RELOAD');
    await waitUntil(allPollConnections, (n) => n.join() === '0,1,1', 'the poll connections back after RELOAD', 3000);
  });
});

describe('the replay poll in-process', () => {
  it('closes its connections when the pooler shuts down, while this process lives on', async () => {
    // the pooler process above would close them by exiting anyway; this one has to do it itself
    await pooler.stop();
    await waitUntil(allPollConnections, (n) => n.join() === '0,0,0', 'the process pooler gone');
    const dir = mkdtempSync(join(tmpdir(), 'replay-poll-'));
    try {
      const file = join(dir, 'pooler.ini');
      writeFileSync(file, `[pooler]\nlisten_addr = 127.0.0.1\nlisten_port = ${await freePort()}\nmetrics_port = 0\nauth_type = trust\nhealth_check_period = 3600\n\n[databases]\napp = ${entry(true)}\n`);
      const inProcess = createPooler(loadConfig({ file }));
      await inProcess.listen();
      await waitUntil(allPollConnections, (n) => n.join() === '0,1,1', 'one poll connection per standby');
      await inProcess.close('immediate');
      await waitUntil(allPollConnections, (n) => n.join() === '0,0,0', 'no poll connection after shutdown', 2000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
