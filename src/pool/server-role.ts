// After a server logs in to a database with failover (multi-host, Patroni): is it the role we
// want? PostgreSQL 14+ says so in its in_hot_standby ParameterStatus; older servers are asked with
// pg_is_in_recovery().
import type { Topology } from '../failover/topology.js';
import type { ServerConnection } from '../server/server-connection.js';
import type { PoolerError } from '../errors.js';

/** calls `done(true)` when the server's role suits the topology; `done(false, why)` when not */
export function checkServerRole(server: ServerConnection, topology: Topology, done: (ok: boolean, why: string) => void): void {
  const readOnly = server.parameters.get('default_transaction_read_only') === 'on';
  const decide = (inRecovery: boolean) =>
    topology.accepts(inRecovery, readOnly)
      ? done(true, '')
      : done(false, inRecovery ? 'is a standby' : readOnly ? 'is read-only' : 'is a primary');
  const hotStandby = server.parameters.get('in_hot_standby');
  if (hotStandby !== undefined) return decide(hotStandby === 'on');
  let inRecovery = false;
  server.runInternal(
    'SELECT pg_is_in_recovery()',
    (error: PoolerError | null) => (error === null ? decide(inRecovery) : done(false, `could not tell its role: ${error.message}`)),
    (columns) => (inRecovery = columns[0] === 't'),
  );
}
