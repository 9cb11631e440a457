// The Pooler wires the parts in core/ together — listeners, clients, auth material, pools,
// topologies, cancel keys, the janitor, shutdown and reload — and is the context clients call back into.
import type net from 'node:net';
import type { HbaConnection } from './auth/hba.js';
import type { ChosenAuth } from './auth/client-auth-rules.js';
import { consoleUser } from './admin/commands.js';
import type { ConsoleContext } from './admin/console-context.js';
import { ConsoleSession } from './admin/console-session.js';
import { CONSOLE, ClientConnection, type ClientContext } from './client/client-connection.js';
import type { ConsoleChannel } from './client/console-port.js';
import type { Config, DatabaseConfig, Settings } from './config/types.js';
import { PoolerError } from './errors.js';
import { loadClassifier } from './sql/index.js';
import type { Logger } from './log.js';
import type { ClientTls } from './net/client-tls.js';
import type { Pool } from './pool/pool.js';
import { AuthMaterial } from './core/auth-material.js';
import { CancelRouter } from './core/cancel-router.js';
import { ClientRegistry } from './core/clients.js';
import { PoolerConsole } from './core/console-context.js';
import { DatabaseDirectory } from './core/databases.js';
import { IdleReaper } from './core/idle-reaper.js';
import { Janitor } from './core/janitor.js';
import { checkLogin, ServerHostChecker, type HostCheckerContext } from './core/host-checker.js';
import { Listeners } from './core/listeners.js';
import { PauseState } from './core/pause-state.js';
import { PoolRegistry } from './core/pool-registry.js';
import { reload } from './core/reload.js';
import { ServerReplayConnector } from './core/replay-connector.js';
import { Shutdown, type ShutdownMode } from './core/shutdown.js';
import { Topologies } from './core/topologies.js';

export type { ShutdownMode } from './core/shutdown.js';

export class Pooler implements ClientContext {
  /** reads the configuration again for RELOAD; set by whoever knows where it came from */
  configSource: (() => Config) | null = null;
  /** what the console and the metrics read and do */
  readonly console: ConsoleContext;
  /** resolves once shutdown has closed everything */
  readonly closed: Promise<void>;

  private readonly pause = new PauseState();
  private readonly janitor = new Janitor();
  private readonly databases: DatabaseDirectory;
  private readonly auth: AuthMaterial;
  private readonly topologies: Topologies;
  private readonly pools: PoolRegistry;
  private readonly clients: ClientRegistry;
  private readonly cancels: CancelRouter;
  private readonly listeners: Listeners;
  private readonly shutdownState: Shutdown;

  constructor(
    private config: Config,
    readonly log: Logger,
  ) {
    const pooler = this;
    const live = () => this.config;
    this.databases = new DatabaseDirectory(live);
    this.auth = new AuthMaterial(live, (name) => this.databases.lookup(name));
    const monitorLogin: HostCheckerContext = {
      settings: () => this.settings,
      serverTls: () => this.auth.serverTls,
      login: (database) => checkLogin(database, this.settings, this.auth, this.pools.of(database.name)[0]?.user ?? null),
    };
    this.topologies = new Topologies({
      log,
      pollInterval: () => this.settings.patroni_poll_interval,
      settings: () => this.settings,
      checker: new ServerHostChecker(monitorLogin),
      replayConnector: new ServerReplayConnector(monitorLogin),
      // the target moved: its idle servers close now, busy ones when released, and waiting clients
      // get servers at the new target (or keep waiting while there is none)
      onChange: (topology, previous) => {
        for (const pool of this.pools.of(topology.name)) {
          pool.targetMoved(previous);
          pool.dispatch();
        }
      },
    });
    this.cancels = new CancelRouter({
      log,
      get settings() {
        return pooler.settings;
      },
      get resumable() {
        return pooler.shutdownState.mode === null && pooler.pause.isPaused(null);
      },
      resumeAll: () => this.console.resume(null),
    });
    this.pools = new PoolRegistry({
      log,
      get config() {
        return pooler.config;
      },
      get serverTls() {
        return pooler.auth.serverTls;
      },
      get draining() {
        return pooler.shutdownState.mode === 'drain';
      },
      isPaused: (database) => this.pause.isPaused(database),
      topologyFor: (database) => this.topologies.topologyFor(database),
      monitoredHost: (database, address) => this.topologies.hosts.host(database, address),
      beingCanceled: (server) => this.cancels.beingCanceled(server),
      cancel: (link) => this.cancels.forwardToServer(link),
    });
    this.clients = new ClientRegistry({
      get settings() {
        return pooler.settings;
      },
      get shuttingDown() {
        return pooler.shutdownState.mode !== null;
      },
      isDisabled: (database) => this.pause.isDisabled(database),
      lookupDatabase: (name) => this.databases.lookup(name),
    });
    this.listeners = new Listeners(log, (socket) => this.onConnection(socket));
    this.shutdownState = new Shutdown({
      log,
      get settings() {
        return pooler.settings;
      },
      clients: () => this.clients.values(),
      get clientCount() {
        return pooler.clients.size;
      },
      pools: () => this.pools.values(),
      stopListening: () => this.listeners.close(),
      pauseAll: () => this.pause.pause(null),
      stopEverything: () => {
        this.janitor.stop();
        this.auth.close();
        this.topologies.stopAll();
      },
    });
    this.closed = this.shutdownState.closed;
    this.console = new PoolerConsole({
      log,
      get config() {
        return pooler.config;
      },
      pools: this.pools,
      clients: this.clients,
      databases: this.databases,
      topologies: this.topologies,
      pause: this.pause,
      janitor: this.janitor,
      get shutdownMode() {
        return pooler.shutdownState.mode;
      },
      shutdown: (mode) => void this.shutdown(mode),
      reload: () => this.reloadFromSource(),
    });
    const reaper = new IdleReaper<Pool>({
      log,
      get settings() {
        return pooler.settings;
      },
      pools: this.pools.pools,
      stats: this.pools.stats,
      autoDatabases: this.databases.auto,
      databaseExists: (name) => this.databases.exists(name),
      removePool: (pool) => {
        if (this.pools.remove(pool)) this.auth.forgetPool(pool.database.name, pool.user);
      },
      forgetDatabases: (names) => {
        this.topologies.forget(names);
        this.auth.forgetDatabases(names);
      },
    });
    this.janitor.add((now) => this.clients.failSlowLogins(now));
    this.janitor.add((now) => this.pools.maintain(now));
    this.janitor.add((now) => this.auth.closeIdle(now));
    this.janitor.add((now) => reaper.tick(now));
    this.janitor.add((now) => this.pools.rollStatsPeriod(now));
    this.janitor.add(() => this.topologies.tick());
    this.janitor.add(() => this.shutdownState.check());
  }

  get settings(): Settings {
    return this.config.settings;
  }

  /** set once shutdown began; read by the console and the readiness probe */
  get shutdownMode(): ShutdownMode | null {
    return this.shutdownState.mode;
  }

  /** start accepting clients; resolves with the address actually bound (port 0 picks one) */
  async listen(): Promise<{ host: string; port: number }> {
    // PostgreSQL's grammar (WebAssembly) is compiled once, before the first client's statement
    await loadClassifier();
    const address = await this.listeners.listen(this.settings);
    // follow every database with failover from now, so the first client finds its primary known
    this.topologies.watch(this.config.databases.values());
    this.janitor.start();
    this.topologies.replay.start();
    return address;
  }

  /** stop as PgBouncer's SHUTDOWN does: at once, or after clients leave, or after servers are released */
  shutdown(mode: ShutdownMode): Promise<void> {
    return this.shutdownState.begin(mode);
  }

  /** apply a newly loaded configuration without dropping clients; diffConfig decides what changed */
  reload(config: Config): void {
    reload(
      {
        log: this.log,
        config: this.config,
        replaceConfig: (next) => (this.config = next),
        auth: this.auth,
        databases: this.databases,
        topologies: this.topologies,
        pools: () => this.pools.values(),
      },
      config,
    );
  }

  /** RELOAD from the console or SIGHUP; throws when the new configuration is invalid */
  reloadFromSource(): void {
    if (this.configSource === null) throw new Error('this pooler was not started from a configuration it can read again');
    this.reload(this.configSource());
  }

  // --- ClientContext

  get clientTls(): ClientTls | null {
    return this.auth.clientTls;
  }

  lookupSecret(user: string): string | null {
    return this.auth.lookupSecret(user);
  }

  chooseAuth(connection: HbaConnection): ChosenAuth | PoolerError {
    return this.auth.chooseAuth(connection);
  }

  querySecret(database: DatabaseConfig, user: string): Promise<string | null> | undefined {
    return this.auth.querySecret(database, user);
  }

  rememberQueriedSecret(database: DatabaseConfig, user: string, secret: string): void {
    this.auth.rememberQueriedSecret(database, user, secret);
    this.pools.find(database.name, user)?.setPassword(this.auth.serverPassword(database, user));
  }

  findDatabase(name: string, client: ClientConnection): DatabaseConfig | typeof CONSOLE | PoolerError {
    return this.clients.admit(name, client);
  }

  openConsole(client: ClientConnection, name: string): ConsoleChannel | PoolerError {
    const user = consoleUser(this.settings, name);
    if (user instanceof PoolerError) return user;
    const session = new ConsoleSession(client, this.console, user);
    this.clients.openedConsole(client, session);
    return session;
  }

  /**
   * The pool declares what it needs of a client (PoolClient) and the client what it needs of a pool
   * (ClientPool); the property-style signature here makes the compiler check, strictly, that a
   * ClientConnection is the PoolClient the pool expects.
   */
  poolFor(database: DatabaseConfig, user: string): Pool & { addClient: (client: ClientConnection) => unknown } {
    // an auto-database freed while this client logged in is known again, and goes with its pool
    this.databases.adopt(database);
    return this.pools.poolFor(database, user, this.auth.serverPassword(database, user));
  }

  registerCancelKey(client: ClientConnection): void {
    this.cancels.register(client);
  }

  forwardCancel(processId: number, secretKey: number): void {
    this.cancels.route(processId, secretKey);
  }

  onClientClosed(client: ClientConnection): void {
    this.clients.closed(client);
    this.cancels.unregister(client);
    this.shutdownState.check();
  }

  private onConnection(socket: net.Socket): void {
    if (this.shutdownState.mode !== null) {
      socket.destroy();
      return;
    }
    this.clients.accept(new ClientConnection(socket, this));
  }
}
