// The per-pool part of the janitor tick: every timeout PgBouncer enforces (query_wait_timeout,
// client_idle_timeout, idle_transaction_timeout, query_timeout, transaction_timeout,
// server_connect_timeout (for logins and for the pooler's own queries), server_lifetime,
// server_idle_timeout, and tcp_user_timeout as far as Node lets the pooler see it) plus
// min_pool_size and the reserve pool — one scan of the lists per tick instead of a timer per socket.
import { effectiveSetting } from '../config/effective.js';
import type { Settings, UserConfig } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import { TxStatus } from '../protocol/codes.js';
import type { Link } from './link.js';
import type { Pool } from './pool.js';

function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(3)} s`;
}

export function maintainPool(pool: Pool, now: number, settings: Settings, user: UserConfig | undefined): void {
  const topology = pool.topology;
  const failoverWait = settings.failover_wait_timeout;
  if (topology.holding && failoverWait > 0) {
    // held for a failover: long enough is long enough, and the client should hear why
    for (const link of [...pool.waitingLoginClients.toArray(), ...pool.waitingClients.toArray()]) {
      if (now - link.waitStart < failoverWait) continue;
      link.client.fail(
        new PoolerError(
          'NO_PRIMARY',
          SqlState.connectionFailure,
          `no ${topology.lacking} for database "${pool.database.name}" within ${seconds(failoverWait)} (failover_wait_timeout)`,
          'FATAL',
          topology.reason,
        ),
        'failover_wait_timeout',
      );
    }
  }
  const queryWaitTimeout = settings.query_wait_timeout;
  if (queryWaitTimeout > 0) {
    // A client still waiting for its first server (the welcome) counts from when it connected.
    for (const link of [...pool.waitingLoginClients.toArray(), ...pool.waitingClients.toArray()]) {
      if (now - link.waitStart < queryWaitTimeout) continue;
      link.client.fail(
        new PoolerError(
          'QUERY_WAIT_TIMEOUT',
          SqlState.protocolViolation,
          `query_wait_timeout: no server connection became free within ${seconds(queryWaitTimeout)}`,
          'FATAL',
          `pool ${pool.name} has ${pool.serverCount} of ${pool.poolSize || 'unlimited'} server connections busy`,
        ),
        'query_wait_timeout',
      );
    }
  }

  const clientIdleTimeout = effectiveSetting(settings, 'client_idle_timeout', pool.database, user);
  const idleTransactionTimeout = effectiveSetting(settings, 'idle_transaction_timeout', pool.database, user);
  const queryTimeout = effectiveSetting(settings, 'query_timeout', pool.database, user);
  const transactionTimeout = effectiveSetting(settings, 'transaction_timeout', pool.database, user);
  if (clientIdleTimeout > 0 || idleTransactionTimeout > 0 || queryTimeout > 0 || transactionTimeout > 0) {
    for (const link of pool.activeClients.toArray()) {
      checkActiveClient(link, now, clientIdleTimeout, idleTransactionTimeout, queryTimeout, transactionTimeout);
    }
  }
  if (settings.tcp_user_timeout > 0) checkWriteStalls(pool, now, settings.tcp_user_timeout);

  for (const server of pool.loginServers.toArray()) {
    if (now - server.connectTime < settings.server_connect_timeout) continue;
    const error = new PoolerError(
      'SERVER_CONNECT_TIMEOUT',
      SqlState.connectionFailure,
      `server_connect_timeout: no login to ${server.target.host}:${server.target.port} within ${seconds(settings.server_connect_timeout)}`,
    );
    server.failLogin(error);
  }

  // The pooler's own query (reset, check, connect_query, role check) that gets no answer would
  // keep the server in `tested` for ever: a server that cannot answer that is not worth keeping.
  for (const server of pool.testedServers.toArray()) {
    if (!server.busyInternally || now - server.internalSince < settings.server_connect_timeout) continue;
    server.close('internal_query_timeout', new PoolerError(
      'INTERNAL_QUERY_TIMEOUT',
      SqlState.connectionFailure,
      `the pooler's own query (reset, check or connect_query) got no answer within ${seconds(settings.server_connect_timeout)} (server_connect_timeout)`,
    ));
  }

  const lifetime = effectiveSetting(settings, 'server_lifetime', pool.database, user);
  const idleTimeout = settings.server_idle_timeout;
  for (const server of pool.idleServers.toArray()) {
    // a check that found no client to hand the server to goes stale: check again before use
    server.checkPassed = false;
    if (lifetime > 0 && now - server.connectTime >= lifetime) server.close('server_lifetime');
    else if (idleTimeout > 0 && now - server.lastUsed >= idleTimeout && pool.serverCount > pool.minPoolSize) {
      server.close('server_idle_timeout');
    }
  }

  // Retries after server_login_retry, the reserve pool after reserve_pool_timeout, and min_pool_size.
  pool.dispatch();
}

function checkActiveClient(
  link: Link,
  now: number,
  clientIdleTimeout: number,
  idleTransactionTimeout: number,
  queryTimeout: number,
  transactionTimeout: number,
): void {
  const server = link.server;
  const client = link.client;
  if (server === null) {
    if (clientIdleTimeout > 0 && now - client.lastActivity >= clientIdleTimeout) {
      client.fail(
        new PoolerError('CLIENT_IDLE_TIMEOUT', SqlState.idleSessionTimeout, 'client_idle_timeout: closing an idle client connection'),
        'client_idle_timeout',
      );
    }
    return;
  }
  const waitingForServer = link.owesReplies;
  if (queryTimeout > 0 && waitingForServer && now - link.requestStart >= queryTimeout) {
    // PgBouncer closes the server (and with it the client) rather than cancelling.
    server.close('query_timeout', new PoolerError(
      'QUERY_TIMEOUT',
      SqlState.queryCanceled,
      `query_timeout: query ran longer than ${seconds(queryTimeout)}`,
    ));
    return;
  }
  if (
    idleTransactionTimeout > 0 &&
    !waitingForServer &&
    server.txStatus !== TxStatus.Idle &&
    now - Math.max(server.readyAt, client.lastActivity) >= idleTransactionTimeout
  ) {
    server.close('idle_transaction_timeout', new PoolerError(
      'IDLE_TRANSACTION_TIMEOUT',
      SqlState.idleInTransactionTimeout,
      `idle_transaction_timeout: transaction was idle longer than ${seconds(idleTransactionTimeout)}`,
    ));
    return;
  }
  // PgBouncer counts from the transaction's first request, running or idle, and ends server and client
  if (transactionTimeout > 0 && link.xactStart > 0 && now - link.xactStart >= transactionTimeout) {
    server.close('transaction_timeout', new PoolerError(
      'TRANSACTION_TIMEOUT',
      SqlState.transactionTimeout,
      `transaction_timeout: transaction ran longer than ${seconds(transactionTimeout)}`,
    ));
  }
}

/**
 * tcp_user_timeout where Node cannot set it (net/socket-tuning.ts): a linked client or a busy
 * server that has taken none of the bytes queued for it that long is closed. Its socket is
 * destroyed rather than ended, since a peer that takes nothing would never take a goodbye either.
 */
function checkWriteStalls(pool: Pool, now: number, userTimeout: number): void {
  for (const list of [pool.activeServers, pool.testedServers]) {
    for (const server of list.toArray()) {
      const stalled = server.writeStall.stalledFor(server.socket, now);
      if (stalled < userTimeout) continue;
      const queued = server.socket.writableLength;
      server.close('tcp_user_timeout', new PoolerError(
        'TCP_USER_TIMEOUT',
        SqlState.connectionFailure,
        `tcp_user_timeout: server ${server.target.host}:${server.target.port} took none of the ${queued} bytes queued for it in ${seconds(stalled)}`,
      ));
      server.socket.destroy();
    }
  }
  for (const { client } of pool.activeClients.toArray()) {
    const stalled = client.writeStall.stalledFor(client.socket, now);
    if (stalled < userTimeout) continue;
    const queued = client.socket.writableLength;
    client.fail(
      new PoolerError('TCP_USER_TIMEOUT', SqlState.connectionFailure, `tcp_user_timeout: the client took none of the ${queued} bytes queued for it in ${seconds(stalled)}`),
      'tcp_user_timeout',
    );
    client.socket.destroy();
  }
}
