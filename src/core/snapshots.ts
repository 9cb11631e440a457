// The console's snapshot views, built from the live pools, clients, servers and topologies when a
// SHOW (or a scrape) asks: plain data, so admin/ and metrics/ never hold or change a live object.
import type { ClientSnapshot, PoolSnapshot, ServerSnapshot, SocketAddresses, TopologySnapshot } from '../admin/console-context.js';
import type { ClientConnection } from '../client/client-connection.js';
import { clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { HostEntry } from '../failover/host-monitor.js';
import type { Topology } from '../failover/topology.js';
import type { Pool } from '../pool/pool.js';
import type { PoolServer } from '../pool/pool-server.js';
import { memberHealth } from './host-snapshots.js';

function addresses(socket: SocketAddresses): SocketAddresses {
  return { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, localAddress: socket.localAddress, localPort: socket.localPort };
}

/** how long the oldest waiting client of the pool has waited, in ms (lists are in arrival order) */
function oldestWait(pool: Pool, now: number): number {
  const start = Math.min(pool.waitingClients.first()?.waitStart ?? Infinity, pool.waitingLoginClients.first()?.waitStart ?? Infinity);
  return start === Infinity ? 0 : now - start;
}

export function poolSnapshot(pool: Pool, config: Config): PoolSnapshot {
  return {
    database: pool.database.name,
    user: pool.user,
    mode: pool.mode,
    clientsActive: pool.activeClients.size,
    clientsWaiting: pool.waitingClients.size + pool.waitingLoginClients.size,
    serversActive: pool.activeServers.size,
    serversIdle: pool.idleServers.size,
    serversUsed: pool.usedServers.size,
    serversTested: pool.testedServers.size,
    serversLogin: pool.loginServers.size,
    clientCount: pool.clientCount,
    serverCount: pool.serverCount,
    maxWait: oldestWait(pool, clock.refresh()),
    poolSize: pool.poolSize,
    reservePoolSize: pool.reservePoolSize,
    peakActive: pool.peakActive,
    autoSized: pool.database.pool_size === null && config.users.get(pool.user)?.pool_size == null && config.settings.default_pool_size_auto,
    loginError: pool.loginError?.message ?? null,
  };
}

export function clientSnapshot(client: ClientConnection): ClientSnapshot {
  const waiting = client.state === 'waiting' || client.state === 'waiting_login';
  return {
    id: client.id,
    user: client.startup?.user ?? null,
    database: client.startup?.database ?? null,
    state: client.isConsole ? 'console' : client.state,
    inLogin: client.inLogin,
    server: client.link?.serverId ?? null,
    ...addresses(client.socket),
    connectTime: client.connectTime,
    lastActivity: client.lastActivity,
    wait: waiting ? clock.refresh() - (client.link?.waitStart ?? 0) : 0,
    tls: client.tlsDescription,
    applicationName: client.parameters.get('application_name') ?? '',
    preparedStatements: client.preparedStatementCount,
    pinReason: client.link?.pinReason ?? '',
  };
}

/** the pool's servers in SHOW SERVERS order: active, idle, used, tested, logging in */
export function serverSnapshots(pool: Pool): ServerSnapshot[] {
  const rows: ServerSnapshot[] = [];
  for (const list of [pool.activeServers, pool.idleServers, pool.usedServers, pool.testedServers, pool.loginServers]) {
    for (const server of list.toArray()) rows.push(serverSnapshot(pool, server));
  }
  return rows;
}

function serverSnapshot(pool: Pool, server: PoolServer): ServerSnapshot {
  const client = server.link?.client ?? null;
  return {
    id: server.id,
    database: pool.database.name,
    user: pool.user,
    state: server.state,
    client: client?.id ?? null,
    ...addresses(server.socket),
    connectTime: server.connectTime,
    lastUsed: server.lastUsed,
    closeNeeded: server.closeNeeded,
    processId: server.processId,
    applicationName: server.parameters.get('application_name') ?? '',
    preparedStatements: server.statements?.statementCount ?? 0,
    pinReason: server.link?.pinReason ?? '',
  };
}

/** `hosts`: the host monitor's entries for the topology's hosts, joined to its members by address */
export function topologySnapshot(topology: Topology, hosts: readonly HostEntry[]): TopologySnapshot {
  const entryOf = (member: { host: string; port: number }) => hosts.find((e) => e.address.host === member.host && e.address.port === member.port);
  return {
    database: topology.name,
    kind: topology.kind,
    current: topology.current === null ? null : { ...topology.current },
    members: topology.members.map((member) => {
      const entry = entryOf(member);
      return { ...member, monitor: entry === undefined ? null : memberHealth(entry) };
    }),
    changes: topology.changes,
    lastChange: topology.lastChange,
    reason: topology.reason,
    noTargetSince: topology.noTargetSince,
    holding: topology.holding,
  };
}
