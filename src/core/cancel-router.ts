// Cancel keys: which client a CancelRequest's key names, and what the cancel does — it goes on to
// the client's server (CancelForwarder), or, for a console session waiting in PAUSE, it resumes.
import type { Link } from '../pool/link.js';
import type { PoolServer } from '../pool/pool-server.js';
import { CancelForwarder, type CancelForwarderContext } from './cancel-forwarder.js';

/** a logged-in client, with the key it was given */
export interface KeyedClient {
  readonly processId: number;
  readonly secretKey: number;
  readonly isConsole: boolean;
  /** its link to a pool, which takes the cancel on to the server */
  readonly link: { cancel(): void } | null;
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
    client.link?.cancel();
  }

  /** a pool asks for a cancel of what the link's server runs */
  forwardToServer(link: Link): void {
    this.forwarder.forward(link);
  }

  /** a cancel for this server is in flight: the pool keeps it with its client until that is done */
  beingCanceled(server: PoolServer): boolean {
    return this.forwarder.beingCanceled(server);
  }
}
