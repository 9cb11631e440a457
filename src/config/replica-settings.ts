// The read-replica settings: how a database with several hosts balances transactions, bans failing
// hosts and limits replica lag. Kept in one table of their own; settings.ts merges the rows into its own.
import type { SettingDefinition } from './settings.js';
import type { LoadBalance, ReadYourWrites, ReplicaFallback, ReplicaLagLimit } from './types.js';
import { InvalidValue, formatSeconds, parseTime } from './values.js';

export const LOAD_BALANCE_MODES: readonly LoadBalance[] = [
  'first',
  'round_robin',
  'weighted_round_robin',
  'least_connections',
  'least_response_time',
  'power_of_two',
];
export const REPLICA_FALLBACKS: readonly ReplicaFallback[] = ['primary', 'wait'];
export const READ_YOUR_WRITES_MODES: readonly ReadYourWrites[] = ['lsn', 'off'];

/**
 * PgBouncer has none of these. server_ban_time's 60 s is PgCat's ban_time; health_check_period is
 * Pgpool-II's name (its default there is 0; 10 s here, as replicas are opt-in anyway).
 */
export const REPLICA_SETTING_DEFINITIONS: readonly SettingDefinition[] = [
  { name: 'health_check_period', kind: 'time', default: '10', reloadable: true },
  { name: 'load_balance', kind: 'enum', default: 'first', reloadable: true, values: LOAD_BALANCE_MODES },
  { name: 'max_replica_lag', kind: 'lag', default: '0', reloadable: true },
  { name: 'read_write_split', kind: 'bool', default: '0', reloadable: true },
  { name: 'read_your_writes', kind: 'enum', default: 'lsn', reloadable: true, values: READ_YOUR_WRITES_MODES },
  { name: 'replica_fallback', kind: 'enum', default: 'primary', reloadable: true, values: REPLICA_FALLBACKS },
  { name: 'replica_lsn_poll_interval', kind: 'time', default: '0.1', reloadable: true },
  { name: 'server_ban_failures', kind: 'int', default: '3', reloadable: true },
  { name: 'server_ban_time', kind: 'time', default: '60', reloadable: true },
];

/** PostgreSQL's memory units (1024-based), which Patroni's ?lag= takes too */
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const BYTE_UNIT_NAMES: readonly [string, number][] = [
  ['TB', 1024 ** 4],
  ['GB', 1024 ** 3],
  ['MB', 1024 ** 2],
  ['kB', 1024],
];

export const NO_LAG_LIMIT: ReplicaLagLimit = Object.freeze({ bytes: 0, ms: 0 });

/**
 * max_replica_lag: `16MB` (bytes) or `10s` (a duration); 0 is off. Any other number needs its unit:
 * a bare `10` could mean bytes (Patroni) or seconds (every other time here), and guessing wrong
 * would silently keep stale replicas in, or every replica out.
 */
export function parseReplicaLag(raw: string): ReplicaLagLimit {
  const expected = '0 (off), a size such as 16MB (B, kB, MB, GB, TB) or a duration such as 10s (ms, s, min, h)';
  const match = /^\+?(\d+\.?\d*|\.\d+)\s*([a-z]*)$/i.exec(raw.trim());
  if (!match) throw new InvalidValue(expected);
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  if (unit === '') {
    if (amount === 0) return { bytes: 0, ms: 0 };
    throw new InvalidValue(expected);
  }
  const scale = BYTE_UNITS[unit];
  if (scale !== undefined) {
    const bytes = amount * scale;
    if (!Number.isSafeInteger(bytes)) throw new InvalidValue(expected);
    return { bytes, ms: 0 };
  }
  try {
    return { bytes: 0, ms: parseTime(raw) };
  } catch {
    throw new InvalidValue(expected);
  }
}

/** as SHOW CONFIG prints it; parseReplicaLag reads it back */
export function formatReplicaLag(limit: ReplicaLagLimit): string {
  if (limit.bytes > 0) {
    const unit = BYTE_UNIT_NAMES.find(([, size]) => limit.bytes % size === 0);
    return unit === undefined ? `${limit.bytes}B` : `${limit.bytes / unit[1]}${unit[0]}`;
  }
  return limit.ms > 0 ? `${formatSeconds(limit.ms)}s` : '0';
}
