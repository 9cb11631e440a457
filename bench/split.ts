// The targets of the read-only workload through read_write_split: a primary and two streaming
// standbys (test/support/replication.ts, which needs no test runner) with pgbench's tables; PgBouncer
// and pooler on the primary alone, and pooler split over one and over two standbys.
import { ReplicationCluster } from '../test/support/replication.js';
import { BENCH_SETTINGS, DATABASE, initBenchDatabase, startPgbouncer, startPooler, type BenchAuth, type Target } from './targets.js';

export interface SplitBench {
  targets: Target[];
  /** the primary's version, for the report */
  version: string;
  /** how many of the target's standbys ran pgbench's read since `since`: whether the split sent reads there at all */
  standbysServing(target: Target, since: Date): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A server connection's last statement and when it began, which pg_stat_activity shows at once
 * (pg_stat_database's counters reach it up to seconds late); a pooler's earlier connections to
 * the same standby have older starts, so they are not counted for the next target.
 */
const SERVED_SQL = `SELECT count(*)::int AS n FROM pg_stat_activity
  WHERE datname = '${DATABASE}' AND pid <> pg_backend_pid() AND query LIKE '%pgbench_accounts%' AND query_start >= $1::timestamptz`;

/** pgbench -i at scale 10 writes a few hundred MB of WAL; two standbys replaying it on 2 cores take a while */
const REPLAY_TIMEOUT_MS = 180_000;

export async function startSplitBench(scale: number, poolSize: number, auth: BenchAuth, log: (line: string) => void): Promise<SplitBench> {
  // no max_connections here: a standby refuses to start with fewer than its primary, and
  // local-postgres gives each standby 300 after the primary's copied settings
  const cluster = await ReplicationCluster.start(2, BENCH_SETTINGS);
  const targets: Target[] = [];
  const stop = async () => {
    for (const target of targets) await target.stop();
    await cluster.stopAll();
  };
  try {
    const version = initBenchDatabase(cluster.primary.port, scale);
    // measuring before the standbys have the tables would time errors or a replay, not the split
    await cluster.waitCaughtUp(undefined, REPLAY_TIMEOUT_MS);
    log(`split: primary ${cluster.primary.port}, standbys ${cluster.standbys.map((s) => s.port).join(', ')}; pgbench tables replayed on both`);
    const [one, two] = cluster.standbys.map((s) => s.port) as [number, number];
    targets.push(await startPgbouncer(cluster.primary.port, poolSize, auth));
    targets.push(await startPooler(cluster.primary.port, poolSize, auth));
    targets.push(await startPooler(cluster.primary.port, poolSize, auth, undefined, [one]));
    targets.push(await startPooler(cluster.primary.port, poolSize, auth, undefined, [one, two]));
    // split-1 is given the first standby, split-2 both
    const standbysServing = async (target: Target, since: Date) => {
      const standbys = target.name === 'split-1' ? [0] : target.name === 'split-2' ? [0, 1] : [];
      const counts = await Promise.all(standbys.map((i) => cluster.query<{ n: number }>(i, SERVED_SQL, [since.toISOString()])));
      return counts.filter(([row]) => (row?.n ?? 0) > 0).length;
    };
    return { targets, version, standbysServing, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
