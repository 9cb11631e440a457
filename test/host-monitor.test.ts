// The host monitor against a real primary and two streaming standbys, through the real pooler
// process: SHOW HOSTS finds each host's role; a standby whose replay is paused goes over
// max_replica_lag and comes back once resumed; a stopped standby is banned and one probe brings it
// back once it runs again. Issue 20, items 3 and 7.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net/free-port.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { ReplicationCluster } from './support/replication.js';
import { waitUntil } from './support/wait.js';

let cluster: ReplicationCluster;
let pooler: PoolerProcess;
let metricsPort: number;

type HostRow = Record<string, unknown> & { port: number };

async function showHosts(): Promise<HostRow[]> {
  const admin = new pg.Client({ connectionString: pooler.url('pgbouncer') });
  await admin.connect();
  try {
    return (await admin.query<HostRow>('SHOW HOSTS')).rows;
  } finally {
    await admin.end();
  }
}

const hostOf = (rows: HostRow[], i: 'primary' | number) => rows.find((r) => r.port === cluster.server(i).port)!;

/** the log lines the pooler wrote, as messages (written asynchronously: wait for the ones expected) */
function logMessages(): string[] {
  return readFileSync(pooler.logFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

async function metric(name: string, labels: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  await cluster.query('primary', 'CREATE TABLE filler (id int, pad text)');
  metricsPort = await freePort();
  const ports = [cluster.primary.port, cluster.standbys[0]!.port, cluster.standbys[1]!.port].join(',');
  pooler = await startPooler({
    settings: {
      auth_type: 'trust',
      admin_users: 'postgres',
      health_check_period: 1,
      server_ban_time: 2,
      max_replica_lag: '1MB',
      metrics_port: metricsPort,
    },
    databases: {
      // user=: the login the checks use (forced user, else auth_user, else a pool's user)
      app: `host=127.0.0.1,127.0.0.1,127.0.0.1 port=${ports} dbname=postgres user=postgres target_session_attrs=prefer-standby`,
      single: `host=127.0.0.1 port=${cluster.primary.port} dbname=postgres`,
    },
  });
}, 90_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stopAll();
});

describe('SHOW HOSTS over a primary and two standbys', () => {
  it('lists the three hosts with the roles their checks found, and a single host unchecked', async () => {
    const rows = await waitUntil(showHosts, (r) => r.filter((h) => h.database === 'app' && h.checked_at !== null).length === 3, 'three checked hosts');
    expect(Object.keys(rows[0]!)).toEqual([
      'database', 'host', 'port', 'role', 'state', 'lagging', 'banned_until', 'ban_reason', 'lag_bytes', 'lag_seconds', 'checked_at',
      'active_servers', 'idle_servers', 'transactions', 'avg_xact_us', 'replay_lsn',
    ]);
    const app = rows.filter((r) => r.database === 'app');
    expect(app.map((r) => r.port)).toEqual([cluster.primary.port, cluster.standbys[0]!.port, cluster.standbys[1]!.port]);
    expect(hostOf(app, 'primary')).toMatchObject({ role: 'primary', state: 'up', lagging: 0, banned_until: null, ban_reason: null, lag_bytes: '0' });
    for (const i of [0, 1]) expect(hostOf(app, i)).toMatchObject({ role: 'standby', state: 'up', banned_until: null });
    expect(rows.find((r) => r.database === 'single')).toMatchObject({ port: cluster.primary.port, role: 'unknown', state: 'up', checked_at: null });
    // a client's server counts at the host it is on (prefer-standby: the first standby); session mode, so active
    const client = new pg.Client({ connectionString: pooler.url('app') });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('SELECT 1');
      const after = (await showHosts()).filter((r) => r.database === 'app');
      expect([hostOf(after, 0).active_servers, hostOf(after, 0).idle_servers]).toEqual([1, 0]);
      expect(hostOf(after, 'primary')).toMatchObject({ active_servers: 0, idle_servers: 0 });
    } finally {
      await client.end();
    }
  });

  it('takes a standby whose replay is paused out once it is over max_replica_lag, and back once it catches up', async () => {
    await cluster.pauseReplay(0);
    try {
      await cluster.query('primary', "INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 4000) g");
      const rows = await waitUntil(showHosts, (r) => hostOf(r, 0).lagging === 1, 'the paused standby lagging', 10_000);
      const lagging = hostOf(rows, 0);
      expect(Number(lagging.lag_bytes)).toBeGreaterThan(1024 * 1024);
      expect(Number(lagging.lag_seconds)).toBeGreaterThan(0);
      expect(lagging.state).toBe('up');
      // the other standby replays, and stays in
      expect(hostOf(rows, 1)).toMatchObject({ lagging: 0 });
      expect(await metric('pooler_host_up', `host="127.0.0.1:${cluster.standbys[0]!.port}"`)).toBe(0);
      expect(await metric('pooler_host_lag_bytes', `host="127.0.0.1:${cluster.standbys[0]!.port}"`)).toBeGreaterThan(1024 * 1024);
      expect(await metric('pooler_host_bans_total', `host="127.0.0.1:${cluster.standbys[0]!.port}",reason="replica_lag"`)).toBe(1);
    } finally {
      await cluster.resumeReplay(0);
    }
    const back = await waitUntil(showHosts, (r) => hostOf(r, 0).lagging === 0, 'the standby caught up', 10_000);
    expect(Number(hostOf(back, 0).lag_bytes)).toBeLessThan(512 * 1024);
    const port = cluster.standbys[0]!.port;
    const lines = await waitUntil(async () => logMessages().filter((m) => m.includes(`host 127.0.0.1:${port}`)), (l) => l.length >= 2, 'two log lines', 5000);
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^database app: host 127.0.0.1:${port} taken out: \\d+ bytes, [\\d.]+s behind, over max_replica_lag$`)),
      expect.stringMatching(new RegExp(`^database app: host 127.0.0.1:${port} caught up`)),
    ]);
  });

  it('bans a stopped standby with the reason, and lets one probe bring it back once it runs again', async () => {
    const port = cluster.standbys[1]!.port;
    await cluster.stop(1);
    try {
      const rows = await waitUntil(showHosts, (r) => hostOf(r, 1).state !== 'up', 'the stopped standby banned', 10_000);
      expect(hostOf(rows, 1)).toMatchObject({ state: 'banned', ban_reason: expect.stringMatching(/^health check failed: .*ECONNREFUSED/) });
      expect(Date.parse(String(hostOf(rows, 1).banned_until).replace(' UTC', 'Z'))).toBeGreaterThan(Date.now() - 1000);
      // while it stays down, each probe bans it again
      await waitUntil(showHosts, (r) => String(hostOf(r, 1).ban_reason).startsWith('probe failed'), 'a failed probe', 10_000);
    } finally {
      await cluster.start(1);
    }
    await waitUntil(showHosts, (r) => hostOf(r, 1).state === 'up', 'the standby back', 10_000);
    expect(await metric('pooler_host_bans_total', `host="127.0.0.1:${port}",reason="health_check"`)).toBe(1);
    expect(await metric('pooler_host_bans_total', `host="127.0.0.1:${port}",reason="probe"`)).toBeGreaterThanOrEqual(1);
    expect(await metric('pooler_host_up', `host="127.0.0.1:${port}"`)).toBe(1);
    // the log file is written asynchronously: wait for the return's line
    const lines = await waitUntil(async () => logMessages().filter((m) => m.includes(`host 127.0.0.1:${port}`)), (l) => l.at(-1)?.endsWith(' back') === true, 'the line saying it is back', 5000);
    expect(lines[0]).toMatch(new RegExp(`^database app: host 127.0.0.1:${port} banned for 2s: health check failed: `));
    expect(lines.at(-1)).toBe(`database app: host 127.0.0.1:${port} back`);
  });
});
