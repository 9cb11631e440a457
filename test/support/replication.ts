// A real primary and N streaming standbys (pg_basebackup -R) on ephemeral ports, for read-replica
// tests: replay paused and resumed, standbys stopped and started, lag measured, catch-up awaited.
import pg from 'pg';
import { startLocalPostgres, startLocalStandby, type LocalPostgres } from '../../src/demo/local-postgres.js';
import { hasReplayed, lagBytes, parseLsn, readReplicaStatus, REPLICA_STATUS_SQL, type ReplicaStatus } from '../../src/failover/replica-lag.js';
import { freePort } from '../../src/net/free-port.js';

const HBA = ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'];

/**
 * synchronous_commit = on (local-postgres turns it off for speed): a commit that has returned is
 * flushed, so the flush position read after it covers it, and waitCaughtUp means what it says.
 * wal_keep_size: the standbys' base backups run at once, and each one's checkpoint would otherwise
 * recycle WAL another is still streaming; a stopped standby also finds what it missed.
 */
const PRIMARY_SETTINGS = ['wal_level = replica', 'max_wal_senders = 10', 'hot_standby = on', 'synchronous_commit = on', 'wal_keep_size = 256MB'];

/** where the primary has flushed to; every commit that has returned is before it */
const FLUSH_LSN_SQL = 'SELECT pg_current_wal_flush_lsn()::text AS lsn';

export type Node = 'primary' | number;

export class ReplicationCluster {
  private constructor(
    readonly primary: LocalPostgres,
    readonly standbys: LocalPostgres[],
  ) {}

  /** `settings`: more postgresql.conf lines for the primary, which pg_basebackup copies to the standbys */
  static async start(standbys = 2, settings: string[] = []): Promise<ReplicationCluster> {
    const primary = await startLocalPostgres(await freePort(), HBA, [...PRIMARY_SETTINGS, ...settings]);
    try {
      const ports = await Promise.all(Array.from({ length: standbys }, () => freePort()));
      const started = await Promise.allSettled(ports.map((port) => startLocalStandby(primary, port)));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed !== undefined) {
        await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
        throw failed.reason;
      }
      return new ReplicationCluster(primary, started.map((s) => (s as PromiseFulfilledResult<LocalPostgres>).value));
    } catch (error) {
      await primary.stop();
      throw error;
    }
  }

  server(node: Node): LocalPostgres {
    return node === 'primary' ? this.primary : this.standbys[node]!;
  }

  url(node: Node, database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.server(node).port}/${database}`;
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(node: Node, sql: string, params: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url(node) });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** the standby stops applying WAL (it still receives it) until resumeReplay */
  async pauseReplay(i: number): Promise<void> {
    await this.query(i, 'SELECT pg_wal_replay_pause()');
  }

  async resumeReplay(i: number): Promise<void> {
    await this.query(i, 'SELECT pg_wal_replay_resume()');
  }

  /** stop standby i at once (pg_ctl -m immediate), keeping its data */
  stop(i: number): Promise<void> {
    return this.standbys[i]!.halt();
  }

  /** start standby i again; it reconnects to the primary and catches up on its own */
  start(i: number): Promise<void> {
    return this.standbys[i]!.start();
  }

  /** where the primary has flushed to */
  async primaryLsn(): Promise<bigint> {
    const [row] = await this.query<{ lsn: string }>('primary', FLUSH_LSN_SQL);
    return parseLsn(row!.lsn);
  }

  /** standby i's replay position and delay, through the query the pooler will run */
  async status(i: number): Promise<ReplicaStatus> {
    const [row] = await this.query<{ in_recovery: unknown; replay_lsn: unknown; replay_delay_ms: unknown }>(i, REPLICA_STATUS_SQL);
    return readReplicaStatus(row!);
  }

  /** bytes of WAL standby i has still to replay */
  async lagBytes(i: number): Promise<number> {
    const primary = await this.primaryLsn();
    return lagBytes(primary, (await this.status(i)).replayLsn!);
  }

  /** resolves once each standby in `which` has replayed everything the primary had flushed when called */
  async waitCaughtUp(which: number[] = this.standbys.map((_, i) => i), timeoutMs = 15_000): Promise<void> {
    const target = await this.primaryLsn();
    const deadline = Date.now() + timeoutMs;
    for (const i of which) {
      for (;;) {
        const replay = await this.status(i).then((s) => s.replayLsn, () => null);
        if (hasReplayed(replay, target)) break;
        if (Date.now() > deadline) throw new Error(`standby ${i} did not replay up to the primary's position within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.standbys.map((s) => s.stop()));
    await this.primary.stop();
  }
}
