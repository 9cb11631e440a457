// One pool per (database, user): the state lists of its clients and servers, handing idle servers
// to waiting clients (FIFO), releasing them by the pool mode's rules, and launching new server
// connections one at a time within the pool's limits. Every state change goes through
// setClientState/setServerState, so the lists are the truth SHOW POOLS reports.
import type { Socket } from 'node:net';
import type { ScramClientKeys } from '../auth/scram-client.js';
import { parseScramSecret } from '../auth/secrets.js';
import type { ServerTls } from '../net/server-tls.js';
import type { WriteStall } from '../net/socket-tuning.js';
import { clock } from '../clock.js';
import { effectiveSettings, settingsRevision, type EffectiveSettings, type GlobalValue, type OverridableSetting } from '../config/effective.js';
import type { Config, DatabaseConfig, PoolMode, SessionStateMode } from '../config/types.js';
import type { PinCause } from './session-state.js';
import { PIN_WORDS } from './session-tracker.js';
import { PoolerError, SqlState, shuttingDown, suggestsFailover, type DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerOwner, ServerPeer, ServerState, ServerTarget } from '../server/server-connection.js';
import { parameterSetQuery } from '../server/parameter-sync.js';
import { TxStatus } from '../protocol/codes.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress, Topology } from '../failover/topology.js';
import type { RoutedHost, ServerCounts } from './host-router.js';
import { HostPools, type HostPoolsOwner } from './host-pools.js';
import { LSN_PENDING, Side } from './read-split.js';
import { parseLsn, PRIMARY_LSN_SQL } from '../failover/replica-lag.js';
import { checkServerRole, readServerRole } from './server-role.js';
import { Link } from './link.js';
import { PoolServer } from './pool-server.js';
import { StateList } from '../state-list.js';
import type { DatabaseStats } from '../stats/database-stats.js';

/** after a failed login to a database with failover, try again this soon (or server_login_retry, if shorter) */
const FAILOVER_LOGIN_RETRY_MS = 250;

export type ClientState = 'waiting_login' | 'waiting' | 'active';

/** a client as the pool sees it (client/ implements it; the pool reaches it through its Link) */
export interface PoolClient extends ServerPeer {
  readonly id: number;
  /** when the client last sent anything */
  lastActivity: number;
  /** tcp_user_timeout, as far as the pooler can see it (the janitor samples it) */
  readonly writeStall: WriteStall;
  /** its byte count feeds the database's `received` total; prepared statements inject rewritten messages into it */
  readonly stream: { takeBytes(): number; inject(message: Buffer, upTo: number): void };
  /** no client message is half-received, so the link may change */
  readonly betweenMessages: boolean;
  /** settings from the startup packet (and its options -c) beyond those followed by ParameterStatus */
  readonly startupSettings: ReadonlyMap<string, string>;
  /** the parameter names followed by ParameterStatus (client_encoding, TimeZone, ...), lower case */
  readonly trackedParameterNames: ReadonlySet<string>;
  /** the client's view of its session parameters, and that view as one comparable key */
  readonly parameters: Map<string, string>;
  readonly parametersKey: string;
  /** the pool has the welcome parameters now; the client works through `link` from here on */
  onWelcome(parameters: Map<string, string>, link: Link): void;
  /** a server is linked and has the client's parameters: send what was held, to `serverSocket` */
  onLinked(serverSocket: Socket): void;
  onUnlinked(): void;
  /**
   * The linked server is gone without a byte of answer: when all the client had sent it was a lone
   * BEGIN, or reads a replica was running (Link.readRetryable), hold that again for another server and say true.
   */
  holdUnanswered(): boolean;
  /** a cancel while waiting for a server: drop the one request held and answer 57014 for the server; false when that is not what is held */
  cancelQueued(): boolean;
  /** the first complete message the client holds for its next server, or null (read_write_split judges it) */
  firstHeldMessage(): Buffer | null;
  /** end the client with an error */
  fail(error: PoolerError, reason: DisconnectReason): void;
  /** the linked server answered up to a ReadyForQuery: what the client held for that may go now */
  onServerAnswered(): void;
  /** end the client without a word */
  close(reason: DisconnectReason): void;
}

/** what a pool needs from the pooler around it */
export interface PoolContext {
  readonly config: Config;
  readonly log: Logger;
  /** server connections of all pools of a database / of a user, for max_db/user_connections */
  serverCountForDatabase(database: string): number;
  serverCountForUser(user: string): number;
  /** a server slot may have freed up for another pool of the same database or user */
  onServerSlotFreed(pool: Pool): void;
  /** TLS toward servers (server_tls_sslmode), or null */
  readonly serverTls: ServerTls | null;
  /** SIGTERM drain in progress: clients are closed at their next transaction boundary */
  readonly draining: boolean;
  /** PAUSE or KILL holds new work for the database */
  isPaused(database: string): boolean;
  /** close one idle server of another pool that shares the limit, so `pool` can open one; false if none */
  evictIdleServer(pool: Pool, shares: (other: Pool) => boolean): boolean;
  /** where the database's servers are (static, multi-host, Patroni) */
  topologyFor(database: DatabaseConfig): Topology;
  /** the host monitor's object for one host of a database (health, role, transaction times); null where nothing monitors it */
  monitoredHost(database: string, address: ServerAddress): MonitoredHost | null;
  /** a cancel for this server is in flight: it stays with its client until that is done */
  beingCanceled(server: PoolServer): boolean;
  /** the client of `link` sent a CancelRequest: forward it to the link's server */
  cancel(link: Link): void;
  /** opens server sockets in place of net/connect.ts (unit tests hand in fake sockets) */
  readonly connectServer?: (target: ServerTarget) => Socket;
}

export class Pool implements ServerOwner {
  readonly activeClients = new StateList<Link>('cl_active');
  readonly waitingClients = new StateList<Link>('cl_waiting');
  readonly waitingLoginClients = new StateList<Link>('cl_waiting_login');
  readonly loginServers = new StateList<PoolServer>('sv_login');
  readonly idleServers = new StateList<PoolServer>('sv_idle');
  readonly activeServers = new StateList<PoolServer>('sv_active');
  readonly usedServers = new StateList<PoolServer>('sv_used');
  readonly testedServers = new StateList<PoolServer>('sv_tested');

  /** ParameterStatus set from the first server login, sent to every client at login */
  welcome: Map<string, string> | null = null;
  /** the last server login failure, returned at once to clients until loginRetryAt */
  loginError: PoolerError | null = null;
  /** see rememberScramKeys */
  private scramKeys: ScramClientKeys | null = null;
  loginRetryAt = 0;
  lastActivity = clock.now;
  /** how far the pool has reached: the most servers linked at once */
  peakActive = 0;
  /** why markAllCloseNeeded marked a server, for the close at its release */
  private readonly closeReasons = new WeakMap<PoolServer, DisconnectReason>();
  /** the overridable settings as they apply to this pool, and the settingsRevision they were read at */
  private effectiveValues: EffectiveSettings | null = null;
  private effectiveRevision = -1;
  /** a pool per host, balanced, and the split's primary side (host-pools.ts); null for an entry with one target */
  private hosts: HostPools | null;

  constructor(
    readonly database: DatabaseConfig,
    /** the user the servers log in as (the forced user, or the client's) */
    readonly user: string,
    private password: string | null,
    private readonly context: PoolContext,
    readonly stats: DatabaseStats,
  ) {
    this.hosts = this.makeHostPools();
  }

  private makeHostPools(): HostPools | null {
    const pool = this;
    const owner: HostPoolsOwner = {
      get database() {
        return pool.database;
      },
      waitingClients: this.waitingClients,
      waitingLoginClients: this.waitingLoginClients,
      get minPoolSize() {
        return pool.minPoolSize;
      },
      get clientCount() {
        return pool.clientCount;
      },
      get serverCount() {
        return pool.serverCount;
      },
      get poolSize() {
        return pool.poolSize;
      },
      get topology() {
        return pool.topology;
      },
      get loginBlocked() {
        return pool.loginError !== null && clock.now < pool.loginRetryAt;
      },
      setting: (key) => this.setting(key),
      takeIdleServer: (host) => this.takeIdleServer(host),
      linkServer: (link, server) => this.link(link, server),
      launch: (route) => this.launch(route),
      sharedCapsAllow: () => this.sharedCapsAllow(),
    };
    return HostPools.make(owner, (address) => this.context.monitoredHost(this.database.name, address));
  }

  /** read_write_split is in force: provable reads go to replicas (not in session mode, where the server is the client's) */
  get splitsReads(): boolean {
    return this.hosts?.split ?? false;
  }

  get name(): string {
    return `${this.database.name}/${this.user}`;
  }

  /** a setting as this pool's user and database override it (config/effective.ts) */
  setting<K extends OverridableSetting>(key: K): GlobalValue<K> {
    // the mapped type holds GlobalValue<K> at K, which TypeScript cannot see through a generic K
    return this.effective()[key] as unknown as GlobalValue<K>;
  }

  /** read again only after a SET, a RELOAD or a changed entry: several are read on every transaction */
  private effective(): EffectiveSettings {
    const revision = settingsRevision();
    if (this.effectiveValues === null || this.effectiveRevision !== revision) {
      this.effectiveValues = effectiveSettings(this.context.config.settings, this.database, this.context.config.users.get(this.user));
      this.effectiveRevision = revision;
    }
    return this.effectiveValues;
  }

  get mode(): PoolMode {
    return this.effective().pool_mode;
  }

  get sessionStateMode(): SessionStateMode {
    return this.context.config.settings.session_state;
  }

  /** a client is pinned to its server: count it, and say so the first time for that client */
  onPinned(clientId: number, cause: PinCause, firstTime: boolean): void {
    this.stats.countPin(cause);
    if (firstTime) {
      this.context.log.info(
        { pool: this.name, client: clientId, reason: cause },
        `client pinned to its server by ${PIN_WORDS[cause]}, which cannot move to another server (session_state = track_and_pin)`,
      );
    }
  }

  /**
   * Whether a lone BEGIN whose server died unanswered goes to another server: only where the pool
   * follows a failover, and not in session mode, where the server holds the client's session.
   */
  get replaysBegin(): boolean {
    return this.mode !== 'session' && this.context.topologyFor(this.database).kind !== 'static';
  }

  get poolSize(): number {
    return this.effective().pool_size;
  }

  get reservePoolSize(): number {
    return this.effective().reserve_pool_size;
  }

  get minPoolSize(): number {
    return this.effective().min_pool_size;
  }

  /** PAUSE or KILL is in force for this pool's database */
  get paused(): boolean {
    return this.context.isPaused(this.database.name);
  }

  /** every server closes now and every client is dropped (KILL) */
  closeEverything(reason: DisconnectReason, error: PoolerError): void {
    for (const list of [this.activeClients, this.waitingClients, this.waitingLoginClients]) {
      for (const link of list.toArray()) link.client.fail(error, reason);
    }
    for (const list of [this.loginServers, this.idleServers, this.activeServers, this.usedServers, this.testedServers]) {
      for (const server of list.toArray()) server.close(reason);
    }
  }

  /** close the servers nobody is using right now (PAUSE) */
  closeUnusedServers(reason: DisconnectReason): void {
    for (const list of [this.loginServers, this.idleServers, this.usedServers, this.testedServers]) {
      for (const server of list.toArray()) server.close(reason);
    }
  }

  get serverCount(): number {
    return (
      this.loginServers.size + this.idleServers.size + this.activeServers.size + this.usedServers.size + this.testedServers.size
    );
  }

  get clientCount(): number {
    return this.activeClients.size + this.waitingClients.size + this.waitingLoginClients.size;
  }

  /** where this database's servers are */
  get topology(): Topology {
    return this.context.topologyFor(this.database);
  }

  /** a new pool password (RELOAD changed the auth file); new server logins use it */
  setPassword(password: string | null): void {
    if (password !== this.password) this.scramKeys = null;
    this.password = password;
  }

  /**
   * A client proved its SCRAM key: when the pool's secret is that same SCRAM secret, keep the key
   * so servers can log in with it (PgBouncer's SCRAM pass-through).
   */
  rememberScramKeys(keys: ScramClientKeys): void {
    const secret = this.password === null ? null : parseScramSecret(this.password);
    if (secret !== null && secret.serverKey.equals(keys.serverKey)) this.scramKeys = keys;
  }

  /**
   * Replace the database entry after RELOAD. `reconnect`: the caller's diffConfig says servers made
   * from the old entry are obsolete (target, login or startup packet changed): they close when
   * released, and the next client learns its parameters from a server of the new entry.
   */
  updateDatabase(database: DatabaseConfig, reconnect: boolean): void {
    (this as { database: DatabaseConfig }).database = database;
    this.effectiveValues = null;
    const after = this.makeHostPools();
    if (!HostPools.same(this.hosts, after)) {
      // servers counted in the old host pools (or in none) would be miscounted in the new ones
      this.hosts = after;
      reconnect = true;
    }
    if (!reconnect) return;
    this.welcome = null;
    this.markAllCloseNeeded('config_changed');
  }

  /** some server is still to be closed when released (RECONNECT, RELOAD); WAIT_CLOSE waits for none */
  hasCloseNeeded(): boolean {
    for (const list of [this.loginServers, this.idleServers, this.activeServers, this.usedServers, this.testedServers]) {
      for (let s = list.first(); s !== null; s = s.next) if (s.closeNeeded) return true;
    }
    return false;
  }

  /** every server is obsolete: unused ones close now, the others when released, each logged with `reason` */
  markAllCloseNeeded(reason: DisconnectReason): void {
    this.markCloseNeeded(reason, () => true);
  }

  /**
   * The topology's target (the primary) moved from `previous`. With read_write_split, or a Patroni
   * entry balancing its replicas, the replica servers were made for their own hosts, not for the
   * target: those on a host still among the replicas keep serving reads, so a failover costs the
   * replicas no reconnections. The primary side's servers close, and so do those on a host that
   * became the target (also when there was none before: a promoted replica) or left the replica list.
   */
  targetMoved(previous: ServerAddress | null): void {
    const keeps = this.hosts?.keepsOnTargetMove() ?? null;
    if (keeps !== null) this.markCloseNeeded('target_moved', (server) => !keeps(server.route));
    else if (previous !== null) this.markAllCloseNeeded('target_moved');
  }

  /** the servers `obsolete` picks: unused ones close now, the others when released */
  private markCloseNeeded(reason: DisconnectReason, obsolete: (server: PoolServer) => boolean): void {
    for (const list of [this.loginServers, this.activeServers, this.testedServers]) {
      for (let s = list.first(); s !== null; s = s.next) {
        if (!obsolete(s)) continue;
        s.closeNeeded = true;
        this.closeReasons.set(s, reason);
      }
    }
    for (const server of [...this.idleServers.toArray(), ...this.usedServers.toArray()]) if (obsolete(server)) server.close(reason);
  }

  // --- client side

  /**
   * A client finished authenticating: its Link to this pool, through which it works from now on.
   * It is welcomed (and given the link) now, or once the first server has logged in.
   */
  addClient(client: PoolClient): Link {
    this.lastActivity = clock.now;
    const link = new Link(client, this, this.context.config.settings.max_prepared_statements);
    if (this.welcome !== null) {
      this.setClientState(link, 'active');
      client.onWelcome(this.welcome, link);
      return link;
    }
    const failFast = this.failFastError();
    if (failFast !== null) {
      client.fail(failFast, 'login_failed');
      return link;
    }
    this.setClientState(link, 'waiting_login');
    link.waitStart = clock.now;
    this.launchIfNeeded();
    return link;
  }

  /** the client has something to send and no server */
  requestServer(link: Link): void {
    this.lastActivity = clock.now;
    // draining: a new transaction would start now; the client is told to go elsewhere instead
    if (this.context.draining) return link.client.fail(shuttingDown(), 'shutdown');
    const failFast = this.failFastError();
    if (failFast !== null) return link.client.fail(failFast, 'login_failed');
    link.waitStart = clock.refresh();
    const split = link.split;
    if (split !== null && this.splitsReads) {
      const message = link.client.firstHeldMessage();
      split.choose(message?.[0] ?? 0, message, 0, message?.length ?? 0);
    } else if (split !== null) {
      // a RELOAD turned the split off since this client last chose: all it sends goes to the one target
      split.fallBack();
    }
    this.setClientState(link, 'waiting');
    this.dispatch();
  }

  /** the client is gone: give its server back, or close the server if it is mid-work */
  removeClient(link: Link): void {
    const server = link.server;
    if (server !== null) {
      // Part of a message already went to the server: it waits for the rest and would read the
      // next client's messages as that rest, so it is never reused.
      const midMessage = !link.client.betweenMessages;
      const quiet = link.quiet;
      const { pinned, spoiledServer } = link.session;
      this.unlink(link, server);
      if (!quiet || server.busyInternally || midMessage || this.context.beingCanceled(server)) {
        server.close('client_gone');
      } else if (spoiledServer) {
        // LOAD, or a statement whose effects are unknown: nothing is sure to undo it
        server.close('session_state');
      } else if (pinned) {
        // temp tables, LISTEN, locks, ... of the client that left go before anyone else gets the server
        this.resetThenIdle(server, 'DISCARD ALL');
      } else {
        const settings = this.context.config.settings;
        if (this.mode === 'session' && settings.server_reset_query !== '') this.resetThenIdle(server, settings.server_reset_query);
        else this.releaseToIdle(server);
      }
    }
    this.setClientState(link, null);
    this.dispatch();
  }

  /** the link's client asked to cancel what its server is running, or the request it waits to send */
  cancel(link: Link): void {
    if (link.state === 'waiting' && link.server === null && link.client.cancelQueued()) {
      link.route = null;
      this.setClientState(link, 'active');
      return;
    }
    this.context.cancel(link);
  }

  /** a linked client's socket drained (or a cancel finished); a release that was waiting for that may go ahead */
  onClientDrained(link: Link): void {
    if (link.server !== null && link.releasable && this.mode !== 'session') this.tryRelease(link);
  }

  // --- server events (ServerOwner)

  onServerLogin(server: PoolServer, error: PoolerError | null): void {
    const topology = this.context.topologyFor(this.database);
    if (server.hostEntry !== null) this.reportLogin(server, error);
    if (error !== null) {
      this.loginError = error;
      this.context.log.warn(
        { pool: this.name, server: `${server.target.host}:${server.target.port}`, sqlstate: error.sqlstate },
        `server login failed: ${error.message}`,
      );
      const route = server.route;
      if (route !== null) {
        // this host is passed over for a moment; the close that follows dispatches, and the
        // clients that were waiting for it choose again among the others
        route.retryAt = clock.refresh() + Math.min(FAILOVER_LOGIN_RETRY_MS, this.context.config.settings.server_login_retry);
        return;
      }
      if (topology.kind !== 'static') {
        // another host or the next primary may be up at once: look again soon, and keep clients
        // waiting (failover_wait_timeout ends the wait) instead of failing them
        this.loginRetryAt = clock.refresh() + Math.min(FAILOVER_LOGIN_RETRY_MS, this.context.config.settings.server_login_retry);
        topology.reject(server.target, `refused the login: ${error.message}`);
        return;
      }
      this.loginRetryAt = clock.refresh() + this.context.config.settings.server_login_retry;
      // 57P03 (the database system is starting up) is worth waiting out, not failing clients for.
      if (error.sqlstate !== SqlState.cannotConnectNow && this.serverCount <= 1) this.failWaiters(error);
      return;
    }
    if (server.route !== null) return this.checkRoutedRole(server, server.route);
    if (topology.kind !== 'static') {
      this.setServerState(server, 'tested');
      checkServerRole(server, topology, (ok, why) => {
        if (server.closed) return;
        if (ok) {
          topology.confirmed();
          return this.onServerReady(server);
        }
        server.close('server_error');
        topology.reject(server.target, why);
      });
      return;
    }
    this.onServerReady(server);
  }

  /**
   * A server of a host pool logged in: learn the host's role from it, and pool it if the entry
   * takes that role. A standby entry's login on the primary is no failure of the host: the
   * primary just stops being a candidate.
   */
  private checkRoutedRole(server: PoolServer, route: RoutedHost): void {
    this.setServerState(server, 'tested');
    readServerRole(server, (inRecovery, readOnly, why) => {
      if (server.closed) return;
      const router = this.hosts?.router ?? null;
      if (why === null && router !== null && router.learned(route, inRecovery, readOnly)) return this.onServerReady(server);
      this.context.log.info(
        { pool: this.name, server: `${route.address.host}:${route.address.port}` },
        `server not used for ${this.database.target_session_attrs}: ${why ?? (inRecovery ? 'is a standby' : readOnly ? 'is read-only' : 'is a primary')}`,
      );
      server.close('server_error');
    });
  }

  /** passive health: a connection-level login failure counts toward a ban, a login resets the count (SQL errors do neither) */
  private reportLogin(server: PoolServer, error: PoolerError | null): void {
    const monitored = this.monitoredOf(server);
    if (monitored === null) return;
    if (error === null) monitored.succeeded();
    else if (isConnectionLevel(error)) monitored.failed(error.message);
  }

  /** the host monitor's object for the server's host, looked up once it exists */
  private monitoredOf(server: PoolServer): MonitoredHost | null {
    if (server.monitored === null && server.hostEntry !== null) {
      server.monitored = server.route?.monitored ?? this.context.monitoredHost(this.database.name, server.hostEntry);
    }
    return server.monitored;
  }

  /** a transaction on a server of a monitored host ended after `ms`: SHOW HOSTS and least_response_time */
  transactionDone(server: PoolServer, ms: number): void {
    // a Patroni replica has no hostEntry (Patroni judges its health), but its host pool is balanced on these times too
    (server.route?.monitored ?? this.monitoredOf(server))?.transactionDone(ms);
  }

  /** a new server logged in (and has the role we want): welcome waiting clients, then pool it */
  private onServerReady(server: PoolServer): void {
    this.loginError = null;
    this.loginRetryAt = 0;
    if (this.welcome === null) {
      this.welcome = new Map(server.parameters);
      for (const link of this.waitingLoginClients.toArray()) {
        this.setClientState(link, 'active');
        link.client.onWelcome(this.welcome, link);
      }
    }
    const connectQuery = this.database.connect_query;
    if (connectQuery) {
      this.setServerState(server, 'tested');
      server.runInternal(connectQuery, (queryError) => {
        if (queryError !== null) {
          this.context.log.warn({ pool: this.name, sqlstate: queryError.sqlstate }, `connect_query failed: ${queryError.message}`);
        }
        if (server.closed) return;
        this.releaseToIdle(server);
        this.dispatch();
      });
      return;
    }
    this.releaseToIdle(server);
    // a client may be waiting for exactly this server: it gets it now, not at the next tick
    this.dispatch();
  }

  onServerReadyForQuery(server: PoolServer): void {
    server.link?.onReadyForQuery();
  }

  onServerClosed(server: PoolServer, reason: DisconnectReason, error: PoolerError | null): void {
    const link = server.link;
    this.setServerState(server, null);
    this.context.log.debug({ pool: this.name, server: server.id, reason }, 'server connection closed');
    const topology = this.context.topologyFor(this.database);
    const failover = topology.kind !== 'static' && (reason === 'server_close' || (error !== null && suggestsFailover(error.sqlstate)));
    if (failover) topology.recheck(`server ${server.target.host}:${server.target.port} went away: ${error?.message ?? reason}`);
    // passive health: a connection lost counts toward a ban (a failed login was counted at onServerLogin)
    if (failover && reason !== 'login_failed' && server.hostEntry !== null) this.monitoredOf(server)?.failed(error?.message ?? 'server closed the connection');
    if (link !== null) {
      const client = link.client;
      // The transaction had ended (its last reply and the server's goodbye came together, before
      // the release), so nothing is lost; or all the client sent was a BEGIN, which has no effects
      // and can go to another server. Either way the client never learns its server changed.
      const finished = this.mode !== 'session' && link.quiet;
      const retry = !finished && failover && !server.answeredPeer && client.holdUnanswered();
      this.unlink(link, server);
      // a replica that went away gets no new transaction for a moment: the retry goes to another host
      if (failover && server.route !== null) server.route.retryAt = clock.refresh() + FAILOVER_LOGIN_RETRY_MS;
      if (retry) {
        this.context.log.info({ pool: this.name, client: client.id, server: server.id }, 'server went away before answering: sending the same request to another server');
        this.requestServer(link);
      } else if (!finished && !server.stream.betweenMessages) {
        // the client has half a message: an ErrorResponse now would be read as the rest of it
        client.close('server_close');
      } else if (!finished) {
        const lost = error ?? new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, 'server connection closed unexpectedly');
        client.fail(
          failover
            ? lost.withMessage(`${lost.message} (the server of database "${this.database.name}" went away while this client was using it; pooler is following the failover)`)
            : lost,
          'server_close',
        );
      }
    }
    this.context.onServerSlotFreed(this);
    this.dispatch();
  }

  onServerFault(server: PoolServer, error: unknown): void {
    this.context.log.error({ pool: this.name, server: server.id, err: error }, 'internal error while handling a server connection; closing it');
  }

  onServerErrorReply(server: PoolServer, error: PoolerError): void {
    // 25006 on a live connection: a write reached a server that may have been demoted meanwhile
    const topology = this.context.topologyFor(this.database);
    if (topology.kind !== 'static') topology.recheck(`server ${server.target.host}:${server.target.port} answered ${error.sqlstate}: ${error.message}`);
  }

  // --- linking and releasing

  /** give idle servers to waiting clients, oldest client first; launch more servers if allowed */
  dispatch(): void {
    // PAUSE: clients queue, and released servers close, until RESUME
    if (this.paused) return;
    if (this.hosts !== null) return this.hosts.dispatch();
    for (let link = this.waitingClients.first(); link !== null; link = this.waitingClients.first()) {
      const server = this.takeIdleServer();
      if (server === null) break;
      this.link(link, server);
    }
    this.launchIfNeeded();
  }

  private link(link: Link, server: PoolServer): void {
    const now = clock.refresh();
    const client = link.client;
    this.setServerState(server, 'active');
    this.setClientState(link, 'active');
    link.attach(server);
    server.peer = client;
    server.forbidTransactions = this.mode === 'statement';
    server.stream.target = client.socket;
    server.lastUsed = now;
    this.stats.countAssignment(now - link.waitStart);
    if (this.activeServers.size > this.peakActive) this.peakActive = this.activeServers.size;
    this.syncParameters(link, server);
  }

  /**
   * Make the server's session parameters the client's, then let the client send. Most clients of
   * a pool share their settings: maps are compared only when this server has not already been found
   * to match a client with the same ones.
   */
  private syncParameters(link: Link, server: PoolServer): void {
    const client = link.client;
    const key = client.parametersKey;
    const session = link.session;
    const parametersMatch = server.matchesParametersKey === key;
    const settingsMatch = server.appliedKey === session.key;
    if (parametersMatch && settingsMatch) return client.onLinked(server.socket);
    const sql = (parametersMatch ? '' : (parameterSetQuery(client.parameters, server.parameters) ?? '')) + (settingsMatch ? '' : (session.replayOn(server.applied) ?? ''));
    if (sql === '') {
      server.matchesParametersKey = key;
      server.appliedKey = session.key;
      return client.onLinked(server.socket);
    }
    server.runInternal(sql, (error) => {
      if (error !== null) {
        client.fail(error.withMessage(`invalid server parameter: ${error.message}`).withSeverity('FATAL'), 'server_error');
        server.close('server_error', error);
        return;
      }
      server.matchesParametersKey = key;
      server.applied = session.snapshot();
      server.appliedKey = session.key;
      if (link.server === server) client.onLinked(server.socket);
    });
  }

  private unlink(link: Link, server: PoolServer): void {
    this.stats.countBytes(link.client.stream.takeBytes(), server.stream.takeBytes());
    link.detach();
    server.unlink();
    link.client.onUnlinked();
  }

  /** the link's server is quiet: back to the pool, unless the client still has bytes to take or a cancel is on its way */
  tryRelease(link: Link): void {
    const client = link.client;
    const server = link.server;
    // PgBouncer's rule: also wait until the client has taken everything, and never split a message.
    if (server === null || !client.betweenMessages || client.socket.writableNeedDrain || this.context.beingCanceled(server)) return;
    this.unlink(link, server);
    const split = link.split;
    if (split !== null && split.side === Side.Primary && split.wrote && this.setting('read_your_writes') === 'lsn') {
      split.wrote = false;
      this.readCommitPosition(link, server);
    } else {
      this.releaseServer(server);
    }
    // a drain closes each client at its transaction boundary, which is now
    if (this.context.draining) client.fail(shuttingDown(), 'shutdown');
    this.dispatch();
  }

  private releaseServer(server: PoolServer): void {
    const settings = this.context.config.settings;
    if (settings.server_reset_query_always && settings.server_reset_query !== '') this.resetThenIdle(server, settings.server_reset_query);
    else this.releaseToIdle(server);
  }

  /**
   * read_your_writes = lsn: the primary's WAL position after the client's transaction, read on the
   * same server before anyone else gets it. Until it is known, no replica has replayed the
   * client's write and its reads go to the primary; if it cannot be read, they keep going there.
   */
  private readCommitPosition(link: Link, server: PoolServer): void {
    const split = link.split!;
    const known = split.requiredLsn;
    split.requiredLsn = LSN_PENDING;
    let lsn: bigint | null = null;
    this.setServerState(server, 'tested');
    const hosts = this.hosts;
    if (hosts !== null) hosts.commitPositionReads++;
    server.runInternal(
      PRIMARY_LSN_SQL,
      (error) => {
        if (hosts !== null) hosts.commitPositionReads--;
        if (error === null && lsn !== null) {
          split.requiredLsn = known;
          split.committedAt(lsn);
        }
        if (server.closed) return;
        if (error !== null) return server.close('server_error', error);
        this.releaseServer(server);
        this.dispatch();
      },
      (columns) => (lsn = columns[0] == null ? null : parseLsn(columns[0])),
    );
  }

  private resetThenIdle(server: PoolServer, query: string): void {
    this.setServerState(server, 'tested');
    server.runInternal(query, (error) => {
      if (error !== null) return server.close('server_reset_failed', error);
      // DISCARD ALL (and RESET ALL) put every setting back to the server's default
      if (/\b(discard|reset)\s+all\b/i.test(query)) {
        server.applied = new Map();
        server.appliedKey = null;
      }
      this.releaseToIdle(server);
      this.dispatch();
    });
  }

  private releaseToIdle(server: PoolServer): void {
    if (server.closed) return;
    const now = clock.now;
    const lifetime = this.setting('server_lifetime');
    if (this.paused) {
      server.close('paused');
      return;
    }
    // released servers owe nothing (the Link judged that); only the transaction status is left to check
    const quiet = server.txStatus === TxStatus.Idle;
    if (server.closeNeeded || (lifetime > 0 && now - server.connectTime >= lifetime) || !quiet) {
      server.close(quiet ? (this.closeReasons.get(server) ?? 'server_lifetime') : 'dirty_release');
      return;
    }
    server.lastUsed = now;
    this.setServerState(server, 'idle');
  }

  /** an idle server ready for use, checking it first when it has idled longer than server_check_delay */
  private takeIdleServer(host: RoutedHost | null = null): PoolServer | null {
    const settings = this.context.config.settings;
    const fifo = settings.server_round_robin;
    for (;;) {
      let server = fifo ? this.idleServers.first() : this.idleServers.last();
      // a host pool (or the primary's, route null, beside replica pools): the same order among its servers
      while (server !== null && server.route !== host) server = fifo ? server.next : server.prev;
      if (server === null) return null;
      const checkQuery = settings.server_check_query;
      if (!server.checkPassed && checkQuery !== '' && clock.now - server.lastUsed >= settings.server_check_delay) {
        this.setServerState(server, 'tested');
        server.runInternal(checkQuery === '<empty>' ? '' : checkQuery, (error) => {
          if (error !== null) return server.close('server_check_failed', error);
          server.lastUsed = clock.now;
          server.checkPassed = true;
          this.setServerState(server, 'idle');
          this.dispatch();
        });
        continue;
      }
      server.checkPassed = false;
      return server;
    }
  }

  // --- growing the pool

  /** open one more server connection when clients need one and the limits allow it */
  launchIfNeeded(): void {
    if (this.paused) return;
    if (this.hosts !== null) return this.hosts.dispatch();
    if (this.loginServers.size > 0) return; // one login at a time per pool, as PgBouncer does
    const now = clock.now;
    if (this.loginError !== null && now < this.loginRetryAt) return;
    const wanted =
      this.waitingLoginClients.size > 0 ||
      this.waitingClients.size > this.testedServers.size ||
      (this.minPoolSize > 0 && this.clientCount > 0 && this.serverCount < this.minPoolSize);
    if (!wanted || !this.canGrow(now)) return;
    this.launch();
  }

  private canGrow(now: number): boolean {
    const settings = this.context.config.settings;
    let limit = this.poolSize;
    if (limit > 0) {
      const oldest = this.waitingClients.first();
      if (oldest !== null && this.reservePoolSize > 0 && now - oldest.waitStart >= settings.reserve_pool_timeout) {
        limit += this.reservePoolSize;
      }
      if (this.serverCount >= limit) return false;
    }
    return this.sharedCapsAllow();
  }

  /** under max_db_connections and max_user_connections (which count every pool's servers) */
  private sharedCapsAllow(): boolean {
    // At a database or user cap, an idle server of another pool under the same cap gives way, as
    // in PgBouncer; closing it frees the slot and calls launchIfNeeded again, so stop here either way.
    const maxDb = this.effective().max_db_connections;
    if (maxDb > 0 && this.context.serverCountForDatabase(this.database.name) >= maxDb) {
      this.context.evictIdleServer(this, (other) => other.database.name === this.database.name);
      return false;
    }
    const maxUser = this.effective().max_user_connections;
    if (maxUser > 0 && this.context.serverCountForUser(this.user) >= maxUser) {
      this.context.evictIdleServer(this, (other) => other.user === this.user);
      return false;
    }
    return true;
  }

  /** open a server on the topology's target, or on `route`'s host for a host pool */
  private launch(route: RoutedHost | null = null): void {
    const settings = this.context.config.settings;
    const topology = this.context.topologyFor(this.database);
    // no writable primary right now (a failover): clients wait until one appears
    const address = route !== null ? route.address : topology.current;
    if (address === null) return;
    const server = new PoolServer(
      {
        host: address.host || settings.unix_socket_dir,
        port: address.port,
        user: this.user,
        database: this.database.dbname,
        password: this.password,
        tls: this.context.serverTls,
        scramKeys: this.scramKeys,
        startupParameters: this.database.startup_parameters,
      },
      this,
      { maxMessageLength: settings.max_packet_size, tuning: settings, ...(this.context.connectServer ? { connect: this.context.connectServer } : {}) },
    );
    // passive health and per-host transaction times are kept for libpq host lists (Patroni's members are judged by Patroni)
    if (topology.kind === 'multi-host' && this.database.hosts.length > 1) server.hostEntry = address;
    server.route = route;
    this.setServerState(server, 'login');
  }

  private failFastError(): PoolerError | null {
    if (this.context.topologyFor(this.database).kind !== 'static') return null;
    if (this.loginError === null || clock.now >= this.loginRetryAt || this.serverCount > 0) return null;
    if (this.loginError.sqlstate === SqlState.cannotConnectNow) return null;
    return this.loginError;
  }

  private failWaiters(error: PoolerError): void {
    for (const link of this.waitingLoginClients.toArray()) link.client.fail(error, 'login_failed');
    for (const link of this.waitingClients.toArray()) link.client.fail(error, 'login_failed');
  }

  // --- the one place lists change

  setClientState(link: Link, state: ClientState | null): void {
    link.list?.remove(link);
    if (state === null) return;
    link.state = state;
    switch (state) {
      case 'active':
        this.activeClients.push(link);
        break;
      case 'waiting':
        this.waitingClients.push(link);
        break;
      case 'waiting_login':
        this.waitingLoginClients.push(link);
        break;
      default:
        assertNever(state);
    }
  }

  setServerState(server: PoolServer, state: ServerState | null): void {
    // counted where it joined, even if a reload turned the split on or off since
    if (server.list === null && state !== null) server.counts = this.hosts?.countsFor(server.route) ?? null;
    if (server.counts !== null) countOnHost(server.counts, server.list === null ? null : server.state, state);
    server.list?.remove(server);
    if (state === null) return;
    server.state = state;
    this.serverList(state).push(server);
  }

  private serverList(state: ServerState): StateList<PoolServer> {
    switch (state) {
      case 'login':
        return this.loginServers;
      case 'idle':
        return this.idleServers;
      case 'active':
        return this.activeServers;
      case 'used':
        return this.usedServers;
      case 'tested':
        return this.testedServers;
      default:
        return assertNever(state);
    }
  }
}

/** keep a host pool's counts as its server moves from list to list (null: in none) */
function countOnHost(host: ServerCounts, from: ServerState | null, to: ServerState | null): void {
  if (from === to) return;
  if (from === null) host.servers++;
  else if (to === null) host.servers--;
  if (from === 'active') host.active--;
  else if (to === 'active') host.active++;
  if (from === 'login' || from === 'tested') host.pending--;
  if (to === 'login' || to === 'tested') host.pending++;
}

/**
 * A failure of the connection (refused, reset, closed, timed out), not an SQL error the server sent
 * nor a login the pooler itself gave up on (SERVER_LOGIN_FAILED: no password, TLS refused), which
 * says nothing of the host's health.
 */
function isConnectionLevel(error: PoolerError): boolean {
  return error.code === 'SERVER_CONNECTION_LOST' || error.code === 'SERVER_CONNECT_TIMEOUT';
}

function assertNever(value: never): never {
  throw new Error(`unexpected state ${String(value)}`);
}
