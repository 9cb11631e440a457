// A server connection as a pool holds it: the Link of the client using it (which sees every reply
// that ends a request before it is forwarded) and the statements prepared on it.
import { Disposition, Treat } from '../net/packet-stream.js';
import { BackendCode } from '../protocol/codes.js';
import { forgetsAllStatements } from '../prepared/messages.js';
import type { ServerStatements } from '../prepared/server-statements.js';
import { ServerConnection, workTableWith } from '../server/server-connection.js';
import type { StateList } from '../state-list.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress } from '../failover/topology.js';
import type { RoutedHost, ServerCounts } from './host-router.js';
import type { Link } from './link.js';

/** the replies that end a request, read whole (they are short) so the Link can match them to its queue */
const LINK_TABLE = workTableWith({
  [BackendCode.ParseComplete]: Treat.Whole,
  [BackendCode.BindComplete]: Treat.Whole,
  [BackendCode.CloseComplete]: Treat.Whole,
  [BackendCode.NoData]: Treat.Whole,
  [BackendCode.RowDescription]: Treat.Whole,
  [BackendCode.CommandComplete]: Treat.Whole,
  [BackendCode.EmptyQueryResponse]: Treat.Whole,
  [BackendCode.PortalSuspended]: Treat.Whole,
});

export class PoolServer extends ServerConnection {
  // the pool's state lists hold PoolServers
  declare list: StateList<PoolServer> | null;
  declare prev: PoolServer | null;
  declare next: PoolServer | null;
  /** the client using this server; null while it is idle, logging in or running the pooler's own query */
  link: Link | null = null;
  /** what is prepared here (transaction and statement mode); made when a client first needs it */
  statements: ServerStatements | null = null;
  /** the session settings clients' SETs (and the pooler's replays) left here: name → SQL value, null for the default */
  applied: ReadonlyMap<string, string | null> = new Map();
  /** the SessionState key `applied` was last found equal to; null when unknown */
  appliedKey: string | null = '';
  /** the host entry it was opened to, for a libpq host list (passive health, SHOW HOSTS); else null */
  hostEntry: ServerAddress | null = null;
  /** the host monitor's object for `hostEntry`, once looked up */
  monitored: MonitoredHost | null = null;
  /** its host's pool, where the pool balances replica hosts (host-router.ts); else null */
  route: RoutedHost | null = null;
  /** the side whose counts this server is in (its host's, or the split primary's), fixed when it joins the pool */
  counts: ServerCounts | null = null;

  protected override workTable(): Uint8Array {
    return LINK_TABLE;
  }

  protected override onReply(code: number, buffer: Buffer | null, offset: number, total: number, internal: boolean): Disposition {
    if (internal) {
      // the pooler's own DISCARD ALL (server_reset_query) empties what is prepared here
      if (code === BackendCode.CommandComplete && buffer !== null && this.statements !== null && forgetsAllStatements(buffer, offset, total)) {
        this.statements.forgetAll(false);
      }
      return Disposition.Forward;
    }
    return this.link === null ? Disposition.Forward : this.link.onReply(code, buffer, offset, total);
  }

  protected override onCopyInStart(): void {
    this.link?.onCopyIn();
  }

  protected override onClose(): void {
    this.statements?.close();
  }
}
