// PoolerError: the one error type the pooler turns into an ErrorResponse for a client, with a
// stable internal code and a PostgreSQL SQLSTATE (its own errors and the ones a server sent); and
// the closed set of reasons a connection ends.

/** the severities the pooler itself raises; a server's error keeps the severity it sent (which a pre-9.6 server may have localized) */
export type Severity = 'ERROR' | 'FATAL' | 'PANIC';

export type PoolerErrorCode =
  | 'PROTOCOL_VIOLATION'
  | 'UNSUPPORTED_PROTOCOL'
  | 'UNSUPPORTED_STARTUP_PARAMETER'
  | 'SESSION_STATE_REFUSED'
  | 'NO_SUCH_DATABASE'
  | 'AUTH_FAILED'
  | 'AUTH_QUERY_FAILED'
  | 'TOO_MANY_CLIENTS'
  | 'TOO_MANY_SERVERS'
  | 'QUERY_WAIT_TIMEOUT'
  /** a cancel reached a request still waiting for a server: it never ran */
  | 'QUERY_CANCELED'
  | 'NO_PRIMARY'
  | 'IDLE_TRANSACTION_TIMEOUT'
  | 'CLIENT_IDLE_TIMEOUT'
  | 'CLIENT_LOGIN_TIMEOUT'
  | 'QUERY_TIMEOUT'
  | 'TRANSACTION_TIMEOUT'
  | 'TCP_USER_TIMEOUT'
  | 'SERVER_LOGIN_FAILED'
  | 'SERVER_CONNECTION_LOST'
  /** the server's own ErrorResponse (or its last words before it shut down), passed on as it came */
  | 'SERVER_ERROR'
  | 'SERVER_CONNECT_TIMEOUT'
  /** the pooler's own query (reset, check, connect_query) got no answer in time */
  | 'INTERNAL_QUERY_TIMEOUT'
  /** KILL or KILL_CLIENT from the console */
  | 'KILLED'
  | 'TRANSACTION_IN_STATEMENT_MODE'
  | 'DUPLICATE_PREPARED_STATEMENT'
  | 'IN_FAILED_TRANSACTION'
  | 'UNKNOWN_PREPARED_STATEMENT'
  | 'SHUTTING_DOWN'
  | 'DATABASE_DISABLED'
  | 'CONSOLE_NOT_ALLOWED'
  | 'CONSOLE'
  | 'INTERNAL';

export class PoolerError extends Error {
  constructor(
    readonly code: PoolerErrorCode,
    readonly sqlstate: string,
    message: string,
    readonly severity: Severity | (string & {}) = 'FATAL',
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PoolerError';
  }

  /** the same error told in other words (its code, SQLSTATE, severity, detail and hint kept) */
  withMessage(message: string): PoolerError {
    return new PoolerError(this.code, this.sqlstate, message, this.severity, this.detail, this.hint);
  }

  /** the same error at another severity (a server's last WARNING becomes the FATAL that ended it) */
  withSeverity(severity: Severity): PoolerError {
    return new PoolerError(this.code, this.sqlstate, this.message, severity, this.detail, this.hint);
  }
}

/** SQLSTATEs the pooler itself raises (see DESIGN.md "Compatibility targets"). */
export const SqlState = {
  /** the code of a NOTICE that reports no condition (the console's own notices) */
  successfulCompletion: '00000',
  protocolViolation: '08P01',
  connectionFailure: '08006',
  cannotConnectNow: '57P03',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  tooManyConnections: '53300',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  readOnlySqlTransaction: '25006',
  queryCanceled: '57014',
  invalidCatalogName: '3D000',
  featureNotSupported: '0A000',
  idleInTransactionTimeout: '25P03',
  inFailedSqlTransaction: '25P02',
  idleSessionTimeout: '57P05',
  transactionTimeout: '25P04',
  internalError: 'XX000',
  syntaxError: '42601',
  insufficientPrivilege: '42501',
  objectNotInPrerequisiteState: '55000',
  invalidParameterValue: '22023',
  configFileError: 'F0000',
  undefinedObject: '42704',
  duplicatePreparedStatement: '42P05',
  invalidSqlStatementName: '26000',
  /** a portal (cursor) that does not exist */
  invalidCursorName: '34000',
} as const;

/** Why a connection was closed; a closed union so logs and metrics can label by it. */
export type DisconnectReason =
  | 'session_state' // the client that left ran LOAD or a statement with unknown session effects: nothing resets that server
  | 'client_close'
  | 'client_terminate'
  | 'server_close'
  | 'protocol_error'
  | 'auth_failed'
  | 'login_failed'
  | 'login_timeout'
  | 'too_many_clients'
  | 'no_such_database'
  | 'unsupported_parameter'
  | 'query_wait_timeout'
  | 'failover_wait_timeout'
  | 'idle_transaction_timeout'
  | 'client_idle_timeout'
  | 'query_timeout'
  | 'transaction_timeout'
  /** the peer took none of the bytes queued for it for tcp_user_timeout (see net/socket-tuning.ts) */
  | 'tcp_user_timeout'
  | 'server_lifetime'
  | 'server_idle_timeout'
  | 'server_check_failed'
  | 'server_reset_failed'
  /** the pooler's own query (reset, check, connect_query) got no answer in time */
  | 'internal_query_timeout'
  | 'server_error'
  | 'statement_mode_transaction'
  | 'client_gone'
  | 'dirty_release'
  | 'evicted'
  | 'paused'
  /** RECONNECT from the console */
  | 'reconnect'
  /** RELOAD changed or removed the database entry the server was made from (diffConfig) */
  | 'config_changed'
  /** failover: the database's primary or target host moved */
  | 'target_moved'
  | 'killed'
  | 'admin_shutdown'
  | 'pool_closed'
  | 'shutdown'
  | 'cancel_done'
  /** a fault in the pooler's own code while handling this connection: it ends, nothing else does */
  | 'internal_error';

/** what a client is told when the pooler closes it because it is shutting down (57P01, as PostgreSQL) */
export function shuttingDown(message = 'pooler is shutting down'): PoolerError {
  return new PoolerError('SHUTTING_DOWN', SqlState.adminShutdown, message);
}

/** a console command refused: an ERROR, so the console session goes on */
export function consoleError(message: string, sqlstate: string): PoolerError {
  return new PoolerError('CONSOLE', sqlstate, message, 'ERROR');
}

/**
 * SQLSTATEs that mean the primary may have moved: 57P01 admin shutdown, 57P02 crash shutdown,
 * 57P03 cannot connect now, 25006 read-only transaction (we are on a standby), and every
 * connection exception (08xxx).
 */
export function suggestsFailover(sqlstate: string): boolean {
  return (
    sqlstate === SqlState.adminShutdown ||
    sqlstate === SqlState.crashShutdown ||
    sqlstate === SqlState.cannotConnectNow ||
    sqlstate === SqlState.readOnlySqlTransaction ||
    sqlstate.startsWith('08')
  );
}
