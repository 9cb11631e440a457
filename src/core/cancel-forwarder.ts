// Forwards a client's CancelRequest to the server it is linked to, over a new connection with the
// server's own key. At most one cancel is in flight per server; while it is, the pool keeps the
// client linked (PgBouncer's being_canceled), so the cancel cannot land on another client's query.
import type net from 'node:net';
import type { Settings } from '../config/types.js';
import type { Logger } from '../log.js';
import { connect as connectToServer, type ConnectTarget } from '../net/connect.js';
import type { Link } from '../pool/link.js';
import type { PoolServer } from '../pool/pool-server.js';
import { cancelRequest } from '../protocol/frontend-messages.js';

export interface CancelForwarderContext {
  readonly log: Logger;
  /** server_connect_timeout bounds how long a cancel connection may take */
  readonly settings: Settings;
}

export type ConnectForCancel = (target: ConnectTarget) => net.Socket;

export class CancelForwarder {
  private readonly inFlight = new Set<PoolServer>();

  constructor(
    private readonly context: CancelForwarderContext,
    private readonly connect: ConnectForCancel = connectToServer,
  ) {}

  /** a cancel for this server is on its way: the pool must not give the server to another client */
  beingCanceled(server: PoolServer): boolean {
    return this.inFlight.size > 0 && this.inFlight.has(server);
  }

  forward(link: Link): void {
    const server = link.server;
    if (server === null) {
      this.context.log.debug('cancel request for an idle client: nothing to cancel');
      return;
    }
    // PostgreSQL answers no cancel; a second one for the same query adds nothing but a connection.
    if (this.inFlight.has(server)) return;
    this.inFlight.add(server);
    const socket = this.connect(server.target);
    socket.on('connect', () => {
      // The link is held while the cancel is in flight, but the client or the server may be gone.
      if (link.server !== server || server.closed) return void socket.destroy();
      socket.end(cancelRequest(server.processId, server.secretKey));
    });
    socket.on('error', (error) => this.context.log.warn({ err: error.message }, 'could not forward a cancel request'));
    socket.setTimeout(this.context.settings.server_connect_timeout, () => socket.destroy());
    // PostgreSQL closes the connection once it has signalled the backend: only now may the server
    // go to another client, and a release that waited for this may go ahead.
    socket.on('close', () => {
      this.inFlight.delete(server);
      if (link.server === server) link.pool.onClientDrained(link);
    });
  }
}
