// SHOW HOSTS (pooler's own): one row per host of every database — its role, whether it takes new
// transactions (up, banned until when and why, probing; lagging), its lag, when it was last
// checked, its servers and routed transactions, and a standby's replay position (read_your_writes).
// A single static host is listed unchecked.
import type { ConsoleView } from './console-context.js';
import { timestamp } from './format.js';
import { int4, int8, numeric, text, type Cell, type ResultSet } from './result-set.js';

export function showHosts(view: ConsoleView): ResultSet {
  const hosts = view.hosts().sort((a, b) => a.database.localeCompare(b.database));
  const rows: Cell[][] = hosts.map((h) => [
    h.database,
    h.host,
    h.port,
    h.role,
    h.state,
    h.lagging ? 1 : 0,
    timestamp(h.bannedUntil),
    h.banReason,
    h.lagBytes,
    h.lagMs === null ? null : (h.lagMs / 1000).toFixed(3),
    timestamp(h.checkedAt),
    h.activeServers,
    h.idleServers,
    h.transactions,
    Math.round(h.avgTransactionMs * 1000),
    h.replayLsn,
  ]);
  return {
    columns: [
      text('database'),
      text('host'),
      int4('port'),
      text('role'),
      text('state'),
      int4('lagging'),
      text('banned_until'),
      text('ban_reason'),
      int8('lag_bytes'),
      numeric('lag_seconds'),
      text('checked_at'),
      int4('active_servers'),
      int4('idle_servers'),
      int8('transactions'),
      int8('avg_xact_us'),
      text('replay_lsn'),
    ],
    rows,
    tag: 'SHOW',
  };
}
