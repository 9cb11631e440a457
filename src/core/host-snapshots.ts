// SHOW HOSTS rows: each database's hosts as the host monitor has them, plus the pools' server
// connections whose target is that host, counted from the pools' lists when asked.
import type { HostSnapshot, MemberHealth } from '../admin/console-context.js';
import type { HostEntry } from '../failover/host-monitor.js';
import { formatLsn } from '../failover/replica-lag.js';
import type { Pool } from '../pool/pool.js';
import type { PoolServer } from '../pool/pool-server.js';
import type { StateList } from '../state-list.js';
import type { Topologies } from './topologies.js';

/** an entry without host= means unix_socket_dir, which is what its servers' targets say */
function countAt(list: StateList<PoolServer>, host: string, port: number): number {
  let n = 0;
  for (const server of list.toArray()) {
    const target = server.target;
    if (target.port === port && (target.host === host || (host === '' && target.host.startsWith('/')))) n++;
  }
  return n;
}

/** the host as SHOW TOPOLOGY adds it to a member: a host nothing checks is up, as SHOW HOSTS lists it */
export function memberHealth(entry: HostEntry): MemberHealth {
  const health = entry.monitored?.health;
  const replayLsn = entry.monitored?.replayLsn ?? null;
  return {
    role: entry.role,
    health: health === undefined ? 'up' : health.lagging ? 'lagging' : health.state,
    lagBytes: health?.lagBytes ?? null,
    lagMs: health?.lagMs ?? null,
    replayLsn: replayLsn === null ? null : formatLsn(replayLsn),
  };
}

function hostSnapshot(database: string, entry: HostEntry, pools: readonly Pool[]): HostSnapshot {
  const { host, port } = entry.address;
  let activeServers = 0;
  let idleServers = 0;
  for (const pool of pools) {
    activeServers += countAt(pool.activeServers, host, port);
    idleServers += countAt(pool.idleServers, host, port) + countAt(pool.usedServers, host, port);
  }
  const monitored = entry.monitored;
  const health = monitored?.health;
  return {
    database,
    host,
    port,
    role: entry.role,
    state: health?.state ?? 'up',
    lagging: health?.lagging ?? false,
    bannedUntil: health?.bannedUntil ?? 0,
    banReason: health?.reason ?? null,
    lagBytes: health?.lagBytes ?? null,
    lagMs: health?.lagMs ?? null,
    checkedAt: monitored?.checkedAt ?? 0,
    monitored: monitored !== null,
    bans: { ...monitored?.bans },
    activeServers,
    idleServers,
    transactions: monitored?.transactions ?? 0,
    avgTransactionMs: monitored?.transactionTime.value ?? 0,
    replayLsn: monitored?.replayLsn == null ? null : formatLsn(monitored.replayLsn),
  };
}

/** every host of every database the pooler follows, or of one (`only`) */
export function hostSnapshots(topologies: Topologies, poolsOf: (database: string) => Pool[], only: string | null = null): HostSnapshot[] {
  const rows: HostSnapshot[] = [];
  for (const topology of topologies.values()) {
    if (only !== null && topology.name !== only) continue;
    const pools = poolsOf(topology.name);
    for (const entry of topologies.hosts.hostsOf(topology)) rows.push(hostSnapshot(topology.name, entry, pools));
  }
  return rows;
}
