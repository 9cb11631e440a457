// Cancel keys: which client a CancelRequest's key names, and what the cancel does — it goes on to
// the client's server (CancelForwarder), or, for a console session waiting in PAUSE, it resumes.
import type { ServerConnection } from '../server/server-connection.js';
import { CancelForwarder, type CancelForwarderContext, type CancellingClient } from './cancel-forwarder.js';

/** a logged-in client, with the key it was given */
export interface KeyedClient extends CancellingClient {
  readonly processId: number;
  readonly secretKey: number;
  readonly isConsole: boolean;
}

export interface CancelRouterContext extends CancelForwarderContext {
  /** PAUSE is in force, and not a shutdown's own */
  readonly resumable: boolean;
  /** RESUME every database */
  resumeAll(): void;
}

function keyOf(processId: number, secretKey: number): string {
  return `${processId}:${secretKey}`;
}

export class CancelRouter {
  private readonly keys = new Map<string, KeyedClient>();
  private readonly forwarder: CancelForwarder;

  constructor(private readonly context: CancelRouterContext) {
    this.forwarder = new CancelForwarder(context);
  }

  register(client: KeyedClient): void {
    this.keys.set(keyOf(client.processId, client.secretKey), client);
  }

  unregister(client: KeyedClient): void {
    this.keys.delete(keyOf(client.processId, client.secretKey));
  }

  route(processId: number, secretKey: number): void {
    const client = this.keys.get(keyOf(processId, secretKey));
    if (client === undefined) {
      this.context.log.debug({ processId }, 'cancel request with an unknown key');
      return;
    }
    if (client.isConsole) {
      // PgBouncer: Ctrl-C in a console session that is waiting in PAUSE means RESUME
      if (this.context.resumable) {
        this.context.log.info('cancel on the console during PAUSE: resuming');
        this.context.resumeAll();
      }
      return;
    }
    this.forwarder.forward(client);
  }

  /** a cancel for this server is in flight: the pool keeps it with its client until that is done */
  beingCanceled(server: ServerConnection): boolean {
    return this.forwarder.beingCanceled(server);
  }
}
