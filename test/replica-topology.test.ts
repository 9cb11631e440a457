// SHOW TOPOLOGY and `pooler top` with a real primary and two streaming standbys behind the pooler
// process: every host of a multi-host entry with the role its check found, up / lagging / banned,
// its lag and replay position, in the console and as a line per host in `pooler top`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './support/cli.js';
import { queryOnce } from './support/pg-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { ReplicationCluster, type Node } from './support/replication.js';
import { waitUntil } from './support/wait.js';

let cluster: ReplicationCluster;
let pooler: PoolerProcess;

type TopologyRow = Record<string, unknown> & { database: string; port: number | null };

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  await cluster.query('primary', 'CREATE TABLE filler (id int, pad text)');
  const ports = [cluster.primary.port, cluster.standbys[0]!.port, cluster.standbys[1]!.port].join(',');
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', health_check_period: 1, server_ban_time: 60, max_replica_lag: '1MB' },
    databases: {
      app: `host=127.0.0.1,127.0.0.1,127.0.0.1 port=${ports} dbname=postgres user=postgres read_write_split=on`,
      single: `host=127.0.0.1 port=${cluster.primary.port} dbname=postgres`,
    },
  });
}, 90_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stopAll();
});

const showTopology = () => queryOnce<TopologyRow>(pooler.url('pgbouncer'), 'SHOW TOPOLOGY');

const rowOf = (rows: TopologyRow[], node: Node) => rows.find((r) => r.database === 'app' && r.port === cluster.server(node).port)!;

/** `pooler top`'s host line for a node, split into its cells */
async function topLine(node: Node): Promise<string[]> {
  const result = await cli(['top', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', '--count', '1']);
  expect(result.code, result.stderr).toBe(0);
  const section = result.stdout.split('\nhosts\n')[1] ?? '';
  const line = section.split('\n').find((l) => l.includes(`127.0.0.1:${cluster.server(node).port} `));
  return line === undefined ? [] : line.split('|').map((cell) => cell.trim());
}

describe('SHOW TOPOLOGY with replicas', () => {
  it('lists every host with the role its check found, its health, lag and replay position, after the columns it had', async () => {
    const rows = await waitUntil(
      showTopology,
      (r) => ['primary', 0, 1].every((n) => rowOf(r, n as Node)?.checked_role !== 'unknown' && rowOf(r, n as Node)?.checked_role != null),
      'every host of app checked',
    );
    expect(Object.keys(rows[0]!)).toEqual([
      'database', 'discovery', 'target', 'member', 'host', 'port', 'role', 'state', 'lag', 'current', 'changes', 'last_change', 'reason',
      'checked_role', 'health', 'lag_bytes', 'lag_seconds', 'replay_lsn',
    ]);
    expect(rowOf(rows, 'primary')).toMatchObject({ discovery: 'multi-host', current: 'yes', checked_role: 'primary', health: 'up', lag_bytes: '0', replay_lsn: null });
    for (const i of [0, 1]) {
      expect(rowOf(rows, i)).toMatchObject({ current: 'no', checked_role: 'standby', health: 'up', replay_lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
      expect(Number(rowOf(rows, i).lag_bytes)).toBeGreaterThanOrEqual(0);
    }
    // a single static host: nothing checks it, and it is listed as SHOW HOSTS lists it
    expect(rows.find((r) => r.database === 'single')).toMatchObject({ discovery: 'static', checked_role: 'unknown', health: 'up', lag_bytes: null, replay_lsn: null });

    const [primaryLine, standbyLine] = [await topLine('primary'), await topLine(0)];
    expect(primaryLine.slice(0, 4)).toEqual(['app', `127.0.0.1:${cluster.primary.port}`, 'primary', 'up']);
    expect(standbyLine.slice(0, 4)).toEqual(['app', `127.0.0.1:${cluster.standbys[0]!.port}`, 'standby', 'up']);
    // `single` has one host and no checks: its pool line says all there is
    const top = await cli(['top', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', '--count', '1']);
    expect(top.stdout.split('\nhosts\n')[1]).not.toMatch(/^single /m);
  });

  it('shows a standby whose replay is paused as lagging, and a stopped one as banned, in the console and in top', async () => {
    await cluster.pauseReplay(1);
    try {
      await cluster.query('primary', "INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 4000) g");
      const rows = await waitUntil(showTopology, (r) => rowOf(r, 1).health === 'lagging', 'the paused standby lagging', 10_000);
      expect(Number(rowOf(rows, 1).lag_bytes)).toBeGreaterThan(1024 * 1024);
      expect(rowOf(rows, 0).health).toBe('up');
      expect((await topLine(1)).slice(2, 4)).toEqual(['standby', 'lagging']);
    } finally {
      await cluster.resumeReplay(1);
    }
    await cluster.stop(0);
    try {
      const rows = await waitUntil(showTopology, (r) => rowOf(r, 0).health === 'banned', 'the stopped standby banned', 10_000);
      // the role is the one its last check found; the monitor never saw it otherwise
      expect(rowOf(rows, 0).checked_role).toBe('standby');
      expect((await topLine(0)).slice(2, 4)).toEqual(['standby', 'banned']);
    } finally {
      await cluster.start(0);
    }
  });
});
