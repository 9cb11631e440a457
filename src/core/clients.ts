// Every client connection from accept to close, and who gets in: sockets not logged in yet are
// bounded on their own (pending logins), console sessions are exempt from max_client_conn so an
// operator can always get in, and the rest are admitted by max_client_conn, DISABLE and the lookup.
import { CONSOLE, type ClientConnection } from '../client/client-connection.js';
import type { ConsoleChannel } from '../client/console-port.js';
import { RESERVED_DATABASE_NAMES } from '../config/databases.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import { PoolerError, SqlState, shuttingDown } from '../errors.js';
import { PendingLogins, pendingLoginLimit } from './pending-logins.js';

export interface AdmissionContext {
  readonly settings: Settings;
  readonly shuttingDown: boolean;
  isDisabled(database: string): boolean;
  lookupDatabase(name: string): DatabaseConfig | null;
}

export class ClientRegistry {
  private readonly all = new Set<ClientConnection>();
  /** connected, but no startup packet yet, or logging in to the console: not counted in max_client_conn */
  private readonly pendingLogins = new PendingLogins<ClientConnection>();
  private readonly consoles = new Map<ClientConnection, ConsoleChannel>();

  constructor(private readonly context: AdmissionContext) {}

  get size(): number {
    return this.all.size;
  }

  get consoleCount(): number {
    return this.consoles.size;
  }

  values(): IterableIterator<ClientConnection> {
    return this.all.values();
  }

  /** a new connection; past the pending-login limit the oldest not logged in yet is closed */
  accept(client: ClientConnection): void {
    this.all.add(client);
    this.pendingLogins.add(client, pendingLoginLimit(this.context.settings.max_client_conn));
  }

  /** the database entry a client's startup packet names, CONSOLE, or the error that refuses it */
  admit(name: string, client: ClientConnection): DatabaseConfig | typeof CONSOLE | PoolerError {
    if (this.context.shuttingDown) return shuttingDown();
    if (RESERVED_DATABASE_NAMES.includes(name)) {
      // until logged in it is still a pending login, which are bounded on their own
      this.pendingLogins.renew(client);
      return CONSOLE;
    }
    // Sockets that never send a startup packet do not count: only clients that name a database do.
    this.pendingLogins.delete(client);
    const maxClientConn = this.context.settings.max_client_conn;
    if (this.all.size - this.consoles.size - this.pendingLogins.size > maxClientConn) {
      return new PoolerError('TOO_MANY_CLIENTS', SqlState.tooManyConnections, `no more connections allowed (max_client_conn = ${maxClientConn})`);
    }
    if (this.context.isDisabled(name)) {
      return new PoolerError('DATABASE_DISABLED', SqlState.cannotConnectNow, `database "${name}" is disabled`);
    }
    return (
      this.context.lookupDatabase(name) ??
      new PoolerError('NO_SUCH_DATABASE', SqlState.invalidCatalogName, `no such database: ${name}`, 'FATAL', undefined)
    );
  }

  /** a console user logged in */
  openedConsole(client: ClientConnection, session: ConsoleChannel): void {
    this.pendingLogins.delete(client);
    this.consoles.set(client, session);
  }

  closed(client: ClientConnection): void {
    this.all.delete(client);
    this.pendingLogins.delete(client);
    this.consoles.delete(client);
  }

  /** janitor: client_login_timeout */
  failSlowLogins(now: number): void {
    const loginTimeout = this.context.settings.client_login_timeout;
    if (loginTimeout <= 0) return;
    for (const client of this.all) {
      if (client.inLogin && now - client.connectTime >= loginTimeout) {
        client.fail(new PoolerError('CLIENT_LOGIN_TIMEOUT', SqlState.protocolViolation, 'client_login_timeout: login took too long'), 'login_timeout');
      }
    }
  }

  /** a client (not a console session) by its SHOW CLIENTS id */
  find(id: number): ClientConnection | undefined {
    for (const client of this.all) if (client.id === id && !client.isConsole) return client;
    return undefined;
  }
}
