// A server connection the pooler uses for itself (host checks, and later the replicas' LSN poll):
// the same ServerConnection login as pools use (TLS, SCRAM, md5), with a promise for the login
// and one for each query's rows. Nobody is linked to it; replies never reach a client.
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';
import type { TcpTuning } from '../net/socket-tuning.js';
import { ServerConnection, type ServerOwner, type ServerTarget } from '../server/server-connection.js';

export type Row = (string | null)[];

export class MonitorConnection implements ServerOwner {
  private readonly server: ServerConnection;
  /** resolves once logged in; rejects with why the login failed or the connection closed first */
  readonly ready: Promise<void>;
  private settleLogin: ((error: PoolerError | null) => void) | null = null;
  private closeError: PoolerError | null = null;

  constructor(target: ServerTarget, options: { maxMessageLength: number; tuning: TcpTuning }) {
    this.ready = new Promise((resolve, reject) => {
      this.settleLogin = (error) => (error === null ? resolve() : reject(error));
    });
    // a login that fails is reported through ready, whether or not anyone awaits it yet
    this.ready.catch(() => undefined);
    this.server = new ServerConnection(target, this, options);
  }

  /** one simple-protocol statement's rows; rejects on an SQL error or a lost connection */
  async query(sql: string): Promise<Row[]> {
    await this.ready;
    if (this.server.closed) throw this.closeError ?? new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, 'server connection closed');
    const rows: Row[] = [];
    return new Promise((resolve, reject) => {
      this.server.runInternal(
        sql,
        (error) => (error === null ? resolve(rows) : reject(error)),
        (columns) => rows.push(columns),
      );
    });
  }

  close(reason: DisconnectReason): void {
    this.server.close(reason);
  }

  // --- ServerOwner

  onServerLogin(server: ServerConnection, error: PoolerError | null): void {
    // out of 'login', so a close says Terminate instead of just dropping the socket
    if (error === null) server.state = 'idle';
    this.settleLogin?.(error);
    this.settleLogin = null;
  }

  onServerReadyForQuery(): void {}

  onServerClosed(_server: ServerConnection, reason: DisconnectReason, error: PoolerError | null): void {
    this.closeError = error;
    this.settleLogin?.(error ?? new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, `server connection closed before login (${reason})`));
    this.settleLogin = null;
  }
}
