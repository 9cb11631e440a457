// The host pools of one Pool: where an entry balances replicas (a host list wanting standbys, a
// Patroni entry's replicas) or splits reads from writes, a pool per host chosen by the balancer,
// and with read_write_split the primary's side beside them. Which waiting client gets which host's
// server, and when a host's pool (or the primary's) grows.
import type { GlobalValue, OverridableSetting } from '../config/effective.js';
import type { DatabaseConfig } from '../config/types.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress, Topology } from '../failover/topology.js';
import type { StateList } from '../state-list.js';
import { HostRouter, type RoutedHost, type ServerCounts } from './host-router.js';
import type { Link } from './link.js';
import type { PoolServer } from './pool-server.js';
import { Side } from './read-split.js';

/** what the host pools need of the Pool they belong to */
export interface HostPoolsOwner {
  readonly database: DatabaseConfig;
  readonly waitingClients: StateList<Link>;
  readonly waitingLoginClients: StateList<Link>;
  readonly minPoolSize: number;
  readonly clientCount: number;
  readonly serverCount: number;
  readonly poolSize: number;
  readonly topology: Topology;
  /** a failed login is still being waited out (server_login_retry) */
  readonly loginBlocked: boolean;
  setting<K extends OverridableSetting>(key: K): GlobalValue<K>;
  /** an idle server of `host` (null: of the primary's side), checked first if it idled long */
  takeIdleServer(host: RoutedHost | null): PoolServer | null;
  linkServer(link: Link, server: PoolServer): void;
  /** open a server on `route`'s host, or (null) on the topology's target */
  launch(route: RoutedHost | null): void;
  /** under max_db_connections and max_user_connections */
  sharedCapsAllow(): boolean;
}

export class HostPools {
  /** the primary side's server counts (read_write_split) */
  readonly primarySide: ServerCounts = { servers: 0, active: 0, pending: 0 };
  /** primary servers reading a commit position (read_your_writes): 'tested', but no login the pool waits for */
  commitPositionReads = 0;
  /**
   * Dispatch rounds, counted: within one, a host (or the primary side) found without an idle
   * server is not searched again for the next waiting client. A round runs at every release, and
   * with a hundred clients waiting, searching each time cost more than the transaction itself.
   */
  private round = 0;

  /** host pools for the entry, or null where it has one target (every entry that balances nothing) */
  static make(owner: HostPoolsOwner, lookup: (address: ServerAddress) => MonitoredHost | null): HostPools | null {
    const database = owner.database;
    const loadBalance = owner.setting('load_balance');
    const kind = owner.topology.kind;
    const split =
      owner.setting('pool_mode') !== 'session' && owner.setting('read_write_split') && (kind === 'patroni' || (kind === 'multi-host' && database.hosts.length > 1));
    if (split) return new HostPools(owner, new HostRouter(database, loadBalance, lookup, undefined, 'standby', kind === 'patroni'), true);
    if (!HostRouter.applies(kind, database, loadBalance)) return null;
    return new HostPools(owner, new HostRouter(database, loadBalance, lookup, undefined, database.target_session_attrs, kind === 'patroni'), false);
  }

  /** the same hosts, balancing and split: a reload keeps these pools and their counts */
  static same(a: HostPools | null, b: HostPools | null): boolean {
    return a === null ? b === null : b !== null && a.split === b.split && a.router.sameAs(b.router);
  }

  private constructor(
    private readonly owner: HostPoolsOwner,
    readonly router: HostRouter,
    /** read_write_split: the router holds the replicas, and servers with no route are the primary's */
    readonly split: boolean,
  ) {}

  /** where a new server's counts go: its host's, or the primary side's */
  countsFor(route: RoutedHost | null): ServerCounts | null {
    return route ?? (this.split ? this.primarySide : null);
  }

  /** Patroni's replicas as last polled (the leader too, for prefer-standby's fallback) */
  follow(): void {
    const topology = this.owner.topology;
    if (topology.kind === 'patroni') this.router.follow(topology.replicas, this.split ? null : topology.current);
  }

  /**
   * The target (the primary) moved: may a server of `route` stay? The primary side's may not, nor
   * one on the host that became the target or left the replicas; the rest keep serving reads. Null
   * where every server is the target's (a host list balancing standbys, as before).
   */
  keepsOnTargetMove(): ((route: RoutedHost | null) => boolean) | null {
    const topology = this.owner.topology;
    if (!this.split && topology.kind !== 'patroni') return null;
    this.follow();
    const target = topology.current;
    const hosts = this.router.hosts;
    return (route) => route !== null && hosts.includes(route) && (target === null || route.address.host !== target.host || route.address.port !== target.port);
  }

  dispatch(): void {
    this.round++;
    this.follow();
    if (this.split) this.dispatchSplit();
    else this.dispatchRouted();
  }

  /**
   * Each waiting client, oldest first, gets a host from the balancer (kept while it waits, unless
   * that host stops being usable), then an idle server of that host, or a server launched there
   * within the host's pool_size; otherwise it waits for that host.
   */
  private dispatchRouted(): void {
    const { owner, router } = this;
    const waiting = owner.waitingClients;
    for (let link = waiting.first(); link !== null; ) {
      const next = link.next;
      let host = link.route;
      // a host already found full this round keeps its clients without another look
      if (host === null || (host.exhaustedIn !== this.round && !router.stillFits(host))) host = link.route = router.pick();
      if (host !== null) this.serveOn(link, host);
      link = next !== null && next.list === waiting ? next : null;
    }
    // the first login (whose parameters welcome the clients) and min_pool_size go where the balancer says
    if (owner.waitingLoginClients.size > 0 || (owner.minPoolSize > 0 && owner.clientCount > 0 && owner.serverCount < owner.minPoolSize)) {
      const host = router.pick();
      if (host !== null) this.launchOn(host);
    }
  }

  /**
   * read_write_split: each waiting client, oldest first, goes to the side its first message chose.
   * A read gets a replica that has replayed the client's last write (read_your_writes), chosen by
   * the balancer; with none, the primary (or, replica_fallback = wait, it waits for one). The
   * primary side is the pool of the topology's writable target, grown one login at a time.
   */
  private dispatchSplit(): void {
    const { owner, router } = this;
    const lsn = owner.setting('read_your_writes') === 'lsn';
    const fallback = owner.setting('replica_fallback');
    const waiting = owner.waitingClients;
    let primaryWaiting = 0;
    let primaryExhausted = false;
    for (let link = waiting.first(); link !== null; ) {
      const next = link.next;
      const split = link.split;
      if (split !== null && split.side === Side.Replica) {
        const required = lsn ? split.requiredLsn : 0n;
        let host = link.route;
        if (host === null || (host.exhaustedIn !== this.round && !router.stillFits(host, required))) host = link.route = router.pickReplica(required);
        if (host !== null) this.serveOn(link, host);
        else if (required !== 0n || fallback === 'primary') split.fallBack();
      }
      if (link.list === waiting && (split === null || split.side === Side.Primary)) {
        link.route = null;
        const server = primaryExhausted ? null : owner.takeIdleServer(null);
        if (server !== null) owner.linkServer(link, server);
        else {
          primaryExhausted = true;
          primaryWaiting++;
        }
      }
      link = next !== null && next.list === waiting ? next : null;
    }
    const side = this.primarySide;
    // a server reading a commit position is about to be idle, but that is no login: the pool still grows meanwhile
    const logins = side.pending - this.commitPositionReads;
    const wanted =
      owner.waitingLoginClients.size > 0 || primaryWaiting > side.pending || (owner.minPoolSize > 0 && owner.clientCount > 0 && side.servers < owner.minPoolSize);
    if (!wanted || logins > 0 || owner.loginBlocked) return;
    const limit = owner.poolSize;
    if ((limit > 0 && side.servers >= limit) || !owner.sharedCapsAllow()) return;
    owner.launch(null);
  }

  /** an idle server of `host` for the client, or one launched there for it */
  private serveOn(link: Link, host: RoutedHost): void {
    if (host.exhaustedIn === this.round) return;
    const server = this.owner.takeIdleServer(host);
    if (server === null) {
      host.exhaustedIn = this.round;
      return this.launchOn(host);
    }
    link.route = null;
    this.owner.linkServer(link, server);
  }

  /** open a server on `host` if none is logging in there, the host's pool is under pool_size and the shared caps allow */
  private launchOn(host: RoutedHost): void {
    if (host.pending > 0) return;
    const limit = this.owner.poolSize;
    if ((limit > 0 && host.servers >= limit) || !this.owner.sharedCapsAllow()) return;
    this.owner.launch(host);
  }
}

