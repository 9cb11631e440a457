// After a server logs in to a database with failover (multi-host, Patroni): is it the role we
// want? PostgreSQL 14+ says so in its in_hot_standby ParameterStatus; older servers are asked with
// pg_is_in_recovery().
import type { Topology } from '../failover/topology.js';
import type { ServerConnection } from '../server/server-connection.js';
import type { PoolerError } from '../errors.js';

/** calls `done(true)` when the server's role suits the topology; `done(false, why)` when not */
export function checkServerRole(server: ServerConnection, topology: Topology, done: (ok: boolean, why: string) => void): void {
  readServerRole(server, (inRecovery, readOnly, error) => {
    if (error !== null) return done(false, error);
    if (topology.accepts(inRecovery, readOnly)) return done(true, '');
    done(false, inRecovery ? 'is a standby' : readOnly ? 'is read-only' : 'is a primary');
  });
}

/** whether the server is a standby and whether it is read-only; `error` says why that is unknown */
export function readServerRole(server: ServerConnection, done: (inRecovery: boolean, readOnly: boolean, error: string | null) => void): void {
  const readOnly = server.parameters.get('default_transaction_read_only') === 'on';
  const hotStandby = server.parameters.get('in_hot_standby');
  if (hotStandby !== undefined) return done(hotStandby === 'on', readOnly, null);
  let inRecovery = false;
  server.runInternal(
    'SELECT pg_is_in_recovery()',
    (error: PoolerError | null) => (error === null ? done(inRecovery, readOnly, null) : done(false, readOnly, `could not tell its role: ${error.message}`)),
    (columns) => (inRecovery = columns[0] === 't'),
  );
}
