// Shutdown in PgBouncer's modes: at once, after clients leave, after servers are released, or a
// container's drain; checked on every janitor tick and whenever a client closes.
import { clock } from '../clock.js';
import type { Settings } from '../config/types.js';
import { shuttingDown, type DisconnectReason, type PoolerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool/pool.js';

/**
 * immediate: close everything now (SIGQUIT, SHUTDOWN). wait_for_clients: wait until clients leave
 * (SHUTDOWN WAIT_FOR_CLIENTS). wait_for_servers: wait until servers are released (SIGINT).
 * drain: SIGTERM in a container — close each client at its next transaction boundary, exit when
 * none is left or at shutdown_timeout.
 */
export type ShutdownMode = 'immediate' | 'wait_for_clients' | 'wait_for_servers' | 'drain';

export interface ShutdownClient {
  readonly betweenTransactions: boolean;
  fail(error: PoolerError, reason: DisconnectReason): void;
}

export interface ShutdownContext {
  readonly log: Logger;
  readonly settings: Settings;
  clients(): Iterable<ShutdownClient>;
  readonly clientCount: number;
  pools(): Iterable<Pool>;
  /** no new connections from now on */
  stopListening(): void;
  /** PAUSE every database, so released servers get no new client */
  pauseAll(): void;
  /** the end: timers, auth_query runners and topologies stop */
  stopEverything(): void;
}

export class Shutdown {
  private current: ShutdownMode | null = null;
  /** drain: when shutdown_timeout runs out; 0 for no limit */
  private deadline = 0;
  private done: (() => void) | null = null;
  /** closing everything makes clients close, and each close checks again: once is enough */
  private finished = false;
  /** resolves once everything is closed */
  readonly closed: Promise<void>;

  constructor(private readonly context: ShutdownContext) {
    this.closed = new Promise((resolve) => (this.done = resolve));
  }

  /** set once shutdown began */
  get mode(): ShutdownMode | null {
    return this.current;
  }

  begin(mode: ShutdownMode): Promise<void> {
    if (this.current !== null && mode !== 'immediate') return this.closed;
    this.current = mode;
    this.context.stopListening();
    // PgBouncer's SIGINT / SHUTDOWN WAIT_FOR_SERVERS also sets PAUSE: a client whose server was
    // released gets no new one (it waits, and check() disconnects it with "server shutting down").
    // Without this, clients that keep starting transactions keep a server active and the shutdown
    // never completes.
    if (mode === 'wait_for_servers') this.context.pauseAll();
    const timeout = this.context.settings.shutdown_timeout;
    if (mode === 'drain' && timeout > 0) this.deadline = clock.refresh() + timeout;
    this.context.log.info({ mode, ...(mode === 'drain' ? { shutdown_timeout_s: timeout / 1000 } : {}) }, 'shutting down');
    if (mode === 'immediate') this.finish();
    else this.check();
    return this.closed;
  }

  /** whether the mode's condition to finish holds now; a drain closes clients between transactions */
  check(): void {
    if (this.finished) return;
    switch (this.current) {
      case null:
      case 'immediate':
        return;
      case 'drain':
        if (this.deadline > 0 && clock.now >= this.deadline) {
          this.context.log.warn({ clients: this.context.clientCount }, 'shutdown_timeout reached: closing the clients that are left');
          return this.finish();
        }
        for (const client of [...this.context.clients()]) {
          if (client.betweenTransactions) client.fail(shuttingDown(), 'shutdown');
        }
        if (this.context.clientCount === 0) this.finish();
        return;
      case 'wait_for_clients':
        if (this.context.clientCount === 0) this.finish();
        return;
      case 'wait_for_servers': {
        let active = 0;
        for (const pool of this.context.pools()) {
          for (const link of pool.waitingClients.toArray()) link.client.fail(shuttingDown('server shutting down'), 'shutdown');
          active += pool.loginServers.size;
          // a client pinned to its server (temp tables, LISTEN, ...) holds it between transactions
          // too; that is not work in progress, and the shutdown does not wait for it to leave
          for (let server = pool.activeServers.first(); server !== null; server = server.next) {
            if (server.link === null || !server.link.pinned || !server.link.quiet) active++;
          }
        }
        if (active === 0) this.finish();
        return;
      }
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const client of [...this.context.clients()]) client.fail(shuttingDown(), 'shutdown');
    for (const pool of this.context.pools()) {
      for (const list of [pool.idleServers, pool.activeServers, pool.loginServers, pool.usedServers, pool.testedServers]) {
        for (const server of list.toArray()) server.close('shutdown');
      }
    }
    this.context.stopEverything();
    this.context.stopListening();
    this.done?.();
  }
}
