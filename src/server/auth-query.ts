// auth_query: looks up the secret of a user missing from auth_file by running the query in
// PostgreSQL as auth_user, over the extended protocol with the user name as $1. One server
// connection per (database, auth_user) serves the lookups in turn and stays open between them.
import { clock } from '../clock.js';
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';
import type { TcpTuning } from '../net/socket-tuning.js';
import { extendedQuery } from '../protocol/frontend-messages.js';
import { ServerConnection, type ServerOwner, type ServerTarget } from './server-connection.js';

interface Lookup {
  user: string;
  resolve(secret: string | null): void;
  reject(error: PoolerError): void;
}

/** what an auth_query row means: the stored secret, or null (no such role, expired, no password) */
export type AuthQueryResult = string | null;

export class AuthQueryRunner implements ServerOwner {
  private server: ServerConnection | null = null;
  private loggedIn = false;
  private running: Lookup | null = null;
  private readonly queue: Lookup[] = [];
  /** when the connection last finished a lookup, for closing it once idle */
  lastUsed = 0;
  /** RELOAD replaced this runner: finish the lookups it has, then close */
  private retired = false;

  constructor(
    private readonly target: ServerTarget,
    private readonly query: string,
    private readonly options: { maxMessageLength: number; tuning: TcpTuning },
  ) {}

  /** the secret auth_query returns for `user`; rejects when the query cannot run */
  lookup(user: string): Promise<AuthQueryResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ user, resolve, reject });
      this.next();
    });
  }

  /** closes the connection if it has been idle since `before` (server_idle_timeout) */
  closeIfIdleSince(before: number): void {
    if (this.server !== null && this.running === null && this.queue.length === 0 && this.lastUsed < before) {
      this.close();
    }
  }

  /** close once the lookups already asked for are answered */
  retire(): void {
    this.retired = true;
    this.next();
  }

  private close(): void {
    this.server?.close('server_idle_timeout');
    this.server = null;
  }

  private next(): void {
    if (this.running !== null) return;
    if (this.queue.length === 0) {
      if (this.retired) this.close();
      return;
    }
    if (this.server?.closed) this.server = null;
    if (this.server === null) {
      this.loggedIn = false;
      this.server = new ServerConnection(this.target, this, this.options);
      return;
    }
    if (!this.loggedIn) return;
    const lookup = this.queue.shift()!;
    this.running = lookup;
    let secret: string | null = null;
    let rows = 0;
    this.server.runInternal(
      extendedQuery(this.query, [lookup.user]),
      (error) => {
        this.running = null;
        this.lastUsed = clock.now;
        if (error !== null) lookup.reject(error);
        else if (rows > 1) lookup.reject(new PoolerError('AUTH_QUERY_FAILED', SqlState.invalidAuthorization, 'auth_query returned more than one row'));
        else lookup.resolve(secret);
        this.next();
      },
      (columns) => {
        rows++;
        // PgBouncer's contract: the first column is the user name, the second its secret
        secret = columns.length >= 2 ? columns[1]! : null;
      },
    );
  }

  // --- ServerOwner

  onServerLogin(server: ServerConnection, error: PoolerError | null): void {
    if (server !== this.server) return;
    if (error !== null) {
      this.server = null;
      this.failAll(error.withMessage(`auth_query: could not log in as auth_user "${this.target.user}": ${error.message}`));
      return;
    }
    server.state = 'idle';
    this.loggedIn = true;
    this.next();
  }

  onServerReadyForQuery(): void {}

  onServerClosed(server: ServerConnection, _reason: DisconnectReason, error: PoolerError | null): void {
    if (server !== this.server) return;
    this.server = null;
    const running = this.running;
    this.running = null;
    running?.reject(error ?? new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, 'auth_query: server connection closed'));
    if (this.queue.length > 0) this.next();
  }

  private failAll(error: PoolerError): void {
    const waiting = this.queue.splice(0);
    for (const lookup of waiting) lookup.reject(error);
  }
}
