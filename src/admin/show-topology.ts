// SHOW TOPOLOGY (pooler's own): per database, where its servers are — each Patroni member or
// listed host with its role, state and lag, which one new server connections go to, how many
// times that moved, and when and why it last did; then the host monitor's view of each, replicas
// included: the role its check found, whether it takes transactions, its lag and replay position.
import type { ConsoleView, MemberHealth } from './console-context.js';
import { int4, int8, numeric, text, type Cell, type ResultSet } from './result-set.js';

function monitorCells(monitor: MemberHealth | null): Cell[] {
  if (monitor === null) return [null, null, null, null, null];
  return [monitor.role, monitor.health, monitor.lagBytes, monitor.lagMs === null ? null : (monitor.lagMs / 1000).toFixed(3), monitor.replayLsn];
}

export function showTopology(view: ConsoleView): ResultSet {
  const rows: Cell[][] = [];
  for (const topology of view.topologies().sort((a, b) => a.database.localeCompare(b.database))) {
    const current = topology.current;
    const target = current === null ? 'none' : `${current.host}:${current.port}`;
    const common = [topology.changes, new Date(topology.lastChange).toISOString(), topology.reason];
    const members = topology.members.length > 0 ? topology.members : [{ name: '', host: '', port: 0, role: '', state: '', lag: null, monitor: null }];
    for (const member of members) {
      const isCurrent = current !== null && member.host === current.host && member.port === current.port;
      rows.push([topology.database, topology.kind, target, member.name, member.host || null, member.port || null, member.role || null, member.state || null, member.lag, isCurrent ? 'yes' : 'no', ...common, ...monitorCells(member.monitor)]);
    }
  }
  return {
    columns: [
      text('database'),
      text('discovery'),
      text('target'),
      text('member'),
      text('host'),
      int4('port'),
      text('role'),
      text('state'),
      int8('lag'),
      text('current'),
      int8('changes'),
      text('last_change'),
      text('reason'),
      text('checked_role'),
      text('health'),
      int8('lag_bytes'),
      numeric('lag_seconds'),
      text('replay_lsn'),
    ],
    rows,
    tag: 'SHOW',
  };
}
