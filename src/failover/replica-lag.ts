// WAL positions and replica lag: LSN text ('0/3000060') as a bigint, how many bytes a replica's
// replay is behind the primary, whether it has replayed a client's last commit, and the
// max_replica_lag check. Pure functions; the queries that feed them are here too, as text.
import type { ReplicaLagLimit } from '../config/types.js';

/**
 * The primary's position, read after a client's commit to learn what a replica must have replayed
 * for it. The insert position, not write or flush, so the commit is covered even with
 * synchronous_commit = off. It errs high, never low: when the last record ends exactly at a page
 * boundary it counts the next page's header, and replicas look behind until more WAL comes, so
 * the read goes to the primary instead (correct, only slower).
 */
export const PRIMARY_LSN_SQL = 'SELECT pg_current_wal_insert_lsn()::text AS lsn';

/**
 * A standby's replay position and how old the last replayed transaction is. The delay counts only
 * while replay is behind what was received: an idle primary sends nothing new, and a replica that
 * has replayed all it has is not late however old its last commit. NULL positions on a primary.
 */
export const REPLICA_STATUS_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE COALESCE(1000 * extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8 AS replay_delay_ms`;

/**
 * The replay poll (read_your_writes = lsn): a standby's replay position, nothing else, as often as
 * replica_lsn_poll_interval. NULL unless in recovery: a promoted standby's pg_last_wal_replay_lsn()
 * stays at where its recovery ended, which says nothing about what it has since written.
 */
export const REPLAY_LSN_SQL = 'SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS replay_lsn';

export interface ReplicaStatus {
  inRecovery: boolean;
  /** null on a primary */
  replayLsn: bigint | null;
  replayDelayMs: number;
}

/** one row of REPLICA_STATUS_SQL, as text (the simple query protocol) or as node-postgres types it */
export function readReplicaStatus(row: { in_recovery: unknown; replay_lsn: unknown; replay_delay_ms: unknown }): ReplicaStatus {
  return {
    inRecovery: row.in_recovery === true || row.in_recovery === 't',
    replayLsn: row.replay_lsn === null || row.replay_lsn === undefined ? null : parseLsn(String(row.replay_lsn)),
    replayDelayMs: Math.max(0, Number(row.replay_delay_ms) || 0),
  };
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** PostgreSQL's pg_lsn text, two 32-bit hex halves: '16/B374D848' is 0x16_B374D848 */
export function parseLsn(text: string): bigint {
  const match = LSN.exec(text.trim());
  if (!match) throw new Error(`not an LSN: "${text}" (expected hex/hex, as in 0/3000060)`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/**
 * Bytes of WAL the replica has still to replay. Never negative: the two positions are read at
 * different moments, and a replica read after the primary may already be past it.
 */
export function lagBytes(primaryLsn: bigint, replayLsn: bigint): number {
  return primaryLsn > replayLsn ? Number(primaryLsn - replayLsn) : 0;
}

/** read_your_writes = lsn: the replica shows the client its own last commit (whose end is `required`) */
export function hasReplayed(replayLsn: bigint | null, required: bigint): boolean {
  return replayLsn !== null && replayLsn >= required;
}

/** over max_replica_lag on either measure it limits; an unknown measure (null) is never over */
export function exceedsLagLimit(limit: ReplicaLagLimit, bytes: number | null, ms: number | null): boolean {
  return (limit.bytes > 0 && bytes !== null && bytes > limit.bytes) || (limit.ms > 0 && ms !== null && ms > limit.ms);
}

/**
 * Back under the limit with room to spare (half of it): a replica that hovers at the limit would
 * otherwise go out and in at every poll, with a log line each time.
 */
export function caughtUp(limit: ReplicaLagLimit, bytes: number | null, ms: number | null): boolean {
  return !exceedsLagLimit({ bytes: limit.bytes / 2, ms: limit.ms / 2 }, bytes, ms);
}
