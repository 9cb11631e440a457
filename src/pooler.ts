// The Pooler: owns the listener, every client, the pools, cancel keys, the janitor tick, RELOAD and
// the shutdown modes. It is the context clients and pools call back into.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseAuthFile } from './auth/auth-file.js';
import { chooseClientAuth, loadClientAuthRules, type ChosenAuth, type ClientAuthRules } from './auth/client-auth-rules.js';
import type { HbaConnection } from './auth/hba.js';
import { ConsoleSession } from './admin/console-session.js';
import { CONSOLE, ClientConnection, type ClientContext } from './client/client-connection.js';
import { clock } from './clock.js';
import type { Config, DatabaseConfig, Settings } from './config/types.js';
import { SETTING_DEFINITIONS, formatSetting, type SettingName } from './config/settings.js';
import { diffConfig, type ConfigDiff } from './config/diff.js';
import { FALLBACK_DATABASE } from './config/databases.js';
import { PoolerError, SqlState, shuttingDown } from './errors.js';
import type { Logger } from './log.js';
import { loadClientTls, type ClientTls } from './net/client-tls.js';
import { loadServerTls, type ServerTls } from './net/server-tls.js';
import { listenUnix, SocketInUseError, unixSocketPath } from './net/unix-listener.js';
import { AuthQueries } from './pool/auth-queries.js';
import { Topology, type ServerAddress } from './failover/topology.js';
import { maintainPool } from './pool/maintenance.js';
import { Pool, type PoolContext } from './pool/pool.js';
import type { ServerConnection } from './server/server-connection.js';
import { DatabaseStats } from './stats/database-stats.js';
import { logStats } from './stats/log-stats.js';
import { PendingLogins, pendingLoginLimit } from './core/pending-logins.js';
import { CancelForwarder } from './core/cancel-forwarder.js';
import { AutoDatabases } from './core/auto-databases.js';
import { reapIdle, type ReapContext } from './core/idle-reaper.js';

/** how often the janitor runs: PgBouncer's 1/3 s */
const JANITOR_INTERVAL_MS = 333;
/** how often idle pools and auto-databases are looked for: each look visits every pool */
const REAP_INTERVAL_MS = 1000;
const ADMIN_DATABASES = new Set(['pgbouncer', 'pooler']);

/**
 * immediate: close everything now (SIGQUIT, SHUTDOWN). wait_for_clients: wait until clients leave
 * (SHUTDOWN WAIT_FOR_CLIENTS). wait_for_servers: wait until servers are released (SIGINT).
 * drain: SIGTERM in a container — close each client at its next transaction boundary, exit when
 * none is left or at shutdown_timeout.
 */
export type ShutdownMode = 'immediate' | 'wait_for_clients' | 'wait_for_servers' | 'drain';

export class Pooler implements ClientContext, PoolContext, ReapContext<Pool> {
  readonly pools = new Map<string, Pool>();
  readonly clients = new Set<ClientConnection>();
  readonly stats = new Map<string, DatabaseStats>();
  readonly consoleSessions = new Set<ConsoleSession>();
  private readonly consoleOf = new Map<ClientConnection, ConsoleSession>();
  /** the name SHOW output gives the console, as PgBouncer's exporters expect */
  readonly consoleName = 'pgbouncer';
  pausedAll = false;
  readonly pausedDatabases = new Set<string>();
  readonly disabledDatabases = new Set<string>();
  /** SUSPEND is refused (no online restart), so this stays false; SHOW STATE reports it */
  readonly suspended = false;
  /** reads the configuration again for RELOAD; set by whoever knows where it came from */
  configSource: (() => Config) | null = null;
  private waiters: { condition: () => boolean; resolve: () => void }[] = [];
  /** when the current stats_period began (SHOW STATS averages, the log_stats line) */
  private statsPeriodStart = clock.now;
  private readonly cancelKeys = new Map<string, ClientConnection>();
  private readonly cancels = new CancelForwarder(this);
  /** connected, but no startup packet yet, or logging in to the console: not counted in max_client_conn */
  private readonly pendingLogins = new PendingLogins<ClientConnection>();
  /** databases made from the `*` fallback, freed after autodb_idle_timeout */
  readonly autoDatabases = new AutoDatabases();
  private lastReap = clock.now;
  private authSecrets = new Map<string, string>();
  /** auth_type, or the auth_hba_file rules and ident maps */
  private authRules: ClientAuthRules;
  /** auth_query runners, and the secrets they found for users who then logged in (database\0user) */
  private readonly authQueries = new AuthQueries(this);
  private readonly queriedSecrets = new Map<string, string>();
  /** where each database's servers are, by database name */
  readonly topologies = new Map<string, Topology>();
  /** TLS toward clients, or null when client_tls_sslmode = disable */
  clientTls: ClientTls | null = null;
  /** TLS toward servers (server_tls_sslmode = prefer by default), or null */
  serverTls: ServerTls | null = null;
  private listener: net.Server | null = null;
  /** <unix_socket_dir>/.s.PGSQL.<port>, unless unix_socket_dir is empty */
  private unixListener: net.Server | null = null;
  private janitor: NodeJS.Timeout | null = null;
  /** drain: when shutdown_timeout runs out; 0 for no limit */
  private shutdownDeadline = 0;
  /** SIGTERM drain: pools close each client as its transaction ends */
  get draining(): boolean {
    return this.shutdownMode === 'drain';
  }

  /** set once shutdown began; read by the console and the readiness probe */
  shutdownMode: ShutdownMode | null = null;
  private shutdownDone: (() => void) | null = null;
  readonly closed: Promise<void>;

  constructor(
    public config: Config,
    readonly log: Logger,
  ) {
    this.authSecrets = this.loadAuthSecrets(config);
    this.authRules = loadClientAuthRules(config.settings);
    this.clientTls = loadClientTls(config.settings);
    this.serverTls = loadServerTls(config.settings);
    this.closed = new Promise((resolve) => (this.shutdownDone = resolve));
  }

  get settings(): Settings {
    return this.config.settings;
  }

  /** start accepting clients; resolves with the address actually bound (port 0 picks one) */
  async listen(): Promise<{ host: string; port: number }> {
    // the Unix socket first when its name is known, so a pooler that must not start (the socket
    // is someone else's) never answers on TCP, not even for a moment
    const port = this.settings.listen_port;
    if (port !== 0) await this.listenOnUnixSocket(port);
    const listener = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    this.listener = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        const host = this.settings.listen_addr === '*' ? undefined : this.settings.listen_addr;
        listener.listen({ host, port, backlog: 511 }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.unixListener?.close();
      throw error;
    }
    const address = listener.address() as net.AddressInfo;
    this.log.info({ host: address.address, port: address.port }, `listening on ${address.address}:${address.port}`);
    if (port === 0) {
      try {
        await this.listenOnUnixSocket(address.port);
      } catch (error) {
        listener.close();
        throw error;
      }
    }
    this.watchTopologies();
    this.janitor = setInterval(() => this.tick(), JANITOR_INTERVAL_MS);
    this.janitor.unref();
    return { host: address.address, port: address.port };
  }

  /** <unix_socket_dir>/.s.PGSQL.<port>; throws only when another server answers there */
  private async listenOnUnixSocket(port: number): Promise<void> {
    const socketDir = this.settings.unix_socket_dir;
    if (socketDir === '') return;
    const path = unixSocketPath(socketDir, port);
    try {
      this.unixListener = await listenUnix(path, (socket) => this.onConnection(socket));
      this.log.info({ path }, `listening on unix:${path}`);
    } catch (error) {
      if (error instanceof SocketInUseError) throw error;
      // a read-only /tmp (a container's root file system) should not keep TCP clients out
      this.log.warn(`not listening on unix:${path}: ${(error as Error).message} (set unix_socket_dir to a writable directory, or empty to turn this off)`);
    }
  }

  /** stop as PgBouncer's SHUTDOWN does: at once, or after clients leave, or after servers are released */
  shutdown(mode: ShutdownMode): Promise<void> {
    if (this.shutdownMode !== null && mode !== 'immediate') return this.closed;
    this.shutdownMode = mode;
    this.listener?.close();
    this.unixListener?.close();
    // PgBouncer's SIGINT / SHUTDOWN WAIT_FOR_SERVERS also sets PAUSE: a client whose server was
    // released gets no new one (it waits, and checkShutdown disconnects it with "server shutting
    // down"). Without this, clients that keep starting transactions keep a server active and the
    // shutdown never completes.
    if (mode === 'wait_for_servers') this.pausedAll = true;
    const timeout = this.settings.shutdown_timeout;
    if (mode === 'drain' && timeout > 0) this.shutdownDeadline = clock.refresh() + timeout;
    this.log.info({ mode, ...(mode === 'drain' ? { shutdown_timeout_s: timeout / 1000 } : {}) }, 'shutting down');
    if (mode === 'immediate') this.finishShutdown();
    else this.checkShutdown();
    return this.closed;
  }

  /** apply a newly loaded configuration without dropping clients; diffConfig decides what changed */
  reload(config: Config): void {
    const secrets = this.loadAuthSecrets(config);
    const authRules = loadClientAuthRules(config.settings);
    const clientTls = loadClientTls(config.settings);
    const serverTls = loadServerTls(config.settings);
    const before = this.config;
    const diff = diffConfig(before, config);
    // Settings PgBouncer reads only at startup (listen_port, pidfile, metrics_port, ...; CF_NO_RELOAD)
    // keep their running value, as PgBouncer ignores them on reload: the listener and endpoints were
    // set up from them, and SHOW CONFIG must report what is in effect, not what the file now says.
    for (const name of diff.restartRequired) {
      const running = formatSetting(name, before.settings);
      this.log.warn(`RELOAD: ${name} changed in the configuration, but it only takes effect on restart; keeping ${running ?? "''"}`);
    }
    for (const def of SETTING_DEFINITIONS) {
      if (def.reloadable) continue;
      (config.settings as unknown as Record<SettingName, unknown>)[def.name] = before.settings[def.name];
      const origin = before.origins.get(def.name);
      if (origin !== undefined) config.origins.set(def.name, origin);
    }
    this.config = config;
    this.authSecrets = secrets;
    this.authRules = authRules;
    this.clientTls = clientTls;
    this.serverTls = serverTls;
    this.autoDatabases.clear();
    this.authQueries.retireAll();
    const rediscover = new Set(diff.databases.rediscover);
    for (const [name, topology] of this.topologies) {
      const database = this.lookupDatabase(name);
      if (database === null || entryChanged(diff, before, name, rediscover)) {
        // another kind of discovery, or other hosts: start over from the new entry
        topology.stop();
        this.topologies.delete(name);
      } else {
        topology.update(database);
      }
    }
    const reconnect = new Set(diff.databases.reconnect);
    for (const pool of this.pools.values()) {
      const database = this.lookupDatabase(pool.database.name);
      if (database === null) pool.markAllCloseNeeded('config_changed');
      else pool.updateDatabase(database, entryChanged(diff, before, pool.database.name, reconnect));
      pool.setPassword(this.serverPassword(pool.database, pool.user));
    }
    this.watchTopologies();
    this.log.info({ file: config.file }, 'configuration reloaded');
  }

  // --- ClientContext

  lookupSecret(user: string): string | null {
    return this.authSecrets.get(user) ?? this.config.urlCredentials.get(user) ?? null;
  }

  chooseAuth(connection: HbaConnection): ChosenAuth | PoolerError {
    return chooseClientAuth(this.authRules, connection);
  }

  querySecret(database: DatabaseConfig, user: string): Promise<string | null> | undefined {
    return this.authQueries.lookup(database, user);
  }

  /** a client logged in against a secret auth_query found: servers of its pool log in with it */
  rememberQueriedSecret(database: DatabaseConfig, user: string, secret: string): void {
    this.queriedSecrets.set(`${database.name}\0${user}`, secret);
    this.pools.get(`${database.name}\0${user}`)?.setPassword(this.serverPassword(database, user));
  }

  findDatabase(name: string, client: ClientConnection): DatabaseConfig | typeof CONSOLE | PoolerError {
    if (this.shutdownMode !== null) {
      return shuttingDown();
    }
    // The console is exempt from max_client_conn, as in PgBouncer, so an operator can always get in;
    // until logged in it is still a pending login, which are bounded on their own.
    if (this.isConsoleDatabase(name)) {
      this.pendingLogins.renew(client);
      return CONSOLE;
    }
    // Sockets that never send a startup packet do not count: only clients that name a database do.
    this.pendingLogins.delete(client);
    if (this.clients.size - this.consoleSessions.size - this.pendingLogins.size > this.settings.max_client_conn) {
      return new PoolerError(
        'TOO_MANY_CLIENTS',
        SqlState.tooManyConnections,
        `no more connections allowed (max_client_conn = ${this.settings.max_client_conn})`,
      );
    }
    if (this.disabledDatabases.has(name)) {
      return new PoolerError('DATABASE_DISABLED', SqlState.cannotConnectNow, `database "${name}" is disabled`);
    }
    return (
      this.lookupDatabase(name) ??
      new PoolerError('NO_SUCH_DATABASE', SqlState.invalidCatalogName, `no such database: ${name}`, 'FATAL', undefined)
    );
  }

  openConsole(client: ClientConnection, user: string): ConsoleSession | PoolerError {
    const settings = this.settings;
    const admin = settings.admin_users.includes(user);
    // auth_type = any lets anyone in; PgBouncer's code makes them read-only unless in admin_users
    if (!admin && !settings.stats_users.includes(user) && settings.auth_type !== 'any') {
      return new PoolerError(
        'CONSOLE_NOT_ALLOWED',
        SqlState.invalidAuthorization,
        `user "${user}" may not use the console: add it to admin_users or stats_users`,
      );
    }
    const session = new ConsoleSession(client, this, { name: user, admin });
    this.pendingLogins.delete(client);
    this.consoleSessions.add(session);
    this.consoleOf.set(client, session);
    return session;
  }

  // --- console state and actions

  isConsoleDatabase(name: string): boolean {
    return ADMIN_DATABASES.has(name);
  }

  /** PAUSE or KILL: `database` null means every database */
  isPaused(database: string | null): boolean {
    if (database === null) return this.pausedAll || this.pausedDatabases.size > 0;
    return this.pausedAll || this.pausedDatabases.has(database);
  }

  pause(database: string | null): void {
    if (database === null) this.pausedAll = true;
    else this.pausedDatabases.add(database);
  }

  resume(database: string | null): void {
    if (database === null) {
      this.pausedAll = false;
      this.pausedDatabases.clear();
    } else {
      this.pausedDatabases.delete(database);
    }
  }

  /** resolves once `condition` holds; checked now and on every janitor tick */
  waitUntil(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ condition, resolve }));
  }

  /** RELOAD from the console: the same as SIGHUP; throws when the new configuration is invalid */
  reloadFromSource(): void {
    if (this.configSource === null) throw new Error('this pooler was not started from a configuration it can read again');
    this.reload(this.configSource());
  }

  topologyFor(database: DatabaseConfig): Topology {
    let topology = this.topologies.get(database.name);
    if (topology === undefined) {
      topology = new Topology(database, {
        pollInterval: this.settings.patroni_poll_interval,
        log: this.log,
        onChange: (moved, previous) => this.onTopologyChange(moved, previous),
      });
      this.topologies.set(database.name, topology);
      topology.start();
    }
    return topology;
  }

  /** start following every database with failover now, so the first client finds its primary known */
  private watchTopologies(): void {
    for (const database of this.config.databases.values()) this.topologyFor(database);
  }

  /**
   * The target moved: idle servers of the database close now, busy ones when released, and
   * waiting clients get servers at the new target (or keep waiting while there is none).
   */
  private onTopologyChange(topology: Topology, previous: ServerAddress | null): void {
    for (const pool of this.pools.values()) {
      if (pool.database.name !== topology.name) continue;
      if (previous !== null) pool.markAllCloseNeeded('target_moved');
      pool.dispatch();
    }
  }

  poolFor(database: DatabaseConfig, user: string): Pool {
    // an auto-database freed while this client logged in is known again, and goes with its pool
    if (!this.config.databases.has(database.name)) this.autoDatabases.adopt(database, clock.now);
    const key = `${database.name}\0${user}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      let stats = this.stats.get(database.name);
      if (stats === undefined) {
        stats = new DatabaseStats(database.name);
        this.stats.set(database.name, stats);
      }
      pool = new Pool(database, user, this.serverPassword(database, user), this, stats);
      this.pools.set(key, pool);
    }
    return pool;
  }

  registerCancelKey(client: ClientConnection): void {
    this.cancelKeys.set(`${client.processId}:${client.secretKey}`, client);
  }

  forwardCancel(processId: number, secretKey: number): void {
    const client = this.cancelKeys.get(`${processId}:${secretKey}`);
    if (client?.isConsole) {
      // PgBouncer: Ctrl-C in a console session that is waiting in PAUSE means RESUME (but a
      // shutdown's own pause stays)
      if (this.shutdownMode === null && this.isPaused(null)) {
        this.log.info('cancel on the console during PAUSE: resuming');
        this.resume(null);
        for (const pool of this.pools.values()) pool.dispatch();
      }
      return;
    }
    if (client === undefined) {
      this.log.debug({ processId }, 'cancel request with an unknown key');
      return;
    }
    this.cancels.forward(client);
  }

  beingCanceled(server: ServerConnection): boolean {
    return this.cancels.beingCanceled(server);
  }

  onClientClosed(client: ClientConnection): void {
    this.clients.delete(client);
    this.pendingLogins.delete(client);
    const session = this.consoleOf.get(client);
    if (session !== undefined) {
      this.consoleOf.delete(client);
      this.consoleSessions.delete(session);
    }
    this.cancelKeys.delete(`${client.processId}:${client.secretKey}`);
    if (this.shutdownMode !== null) this.checkShutdown();
  }

  // --- PoolContext

  serverCountForDatabase(database: string): number {
    let count = 0;
    for (const pool of this.pools.values()) if (pool.database.name === database) count += pool.serverCount;
    return count;
  }

  serverCountForUser(user: string): number {
    let count = 0;
    for (const pool of this.pools.values()) if (pool.user === user) count += pool.serverCount;
    return count;
  }

  evictIdleServer(pool: Pool, shares: (other: Pool) => boolean): boolean {
    let oldest: ServerConnection | null = null;
    for (const other of this.pools.values()) {
      if (other === pool || !shares(other)) continue;
      for (const server of other.idleServers.toArray()) if (oldest === null || server.lastUsed < oldest.lastUsed) oldest = server;
    }
    if (oldest === null) return false;
    oldest.close('evicted');
    return true;
  }

  onServerSlotFreed(freed: Pool): void {
    // Server closes are rare enough to look at every pool, which also covers caps set per user.
    for (const pool of this.pools.values()) {
      if (pool !== freed && (pool.database.name === freed.database.name || pool.user === freed.user)) pool.launchIfNeeded();
    }
  }

  // --- internals

  private onConnection(socket: net.Socket): void {
    if (this.shutdownMode !== null) {
      socket.destroy();
      return;
    }
    const client = new ClientConnection(socket, this);
    this.clients.add(client);
    this.pendingLogins.add(client, pendingLoginLimit(this.settings.max_client_conn));
  }

  lookupDatabase(name: string): DatabaseConfig | null {
    const listed = this.config.databases.get(name);
    if (listed !== undefined) return listed;
    const fallback = this.config.fallback;
    if (fallback === null) return null;
    return this.autoDatabases.get(name, fallback, clock.now);
  }

  // --- ReapContext

  databaseExists(name: string): boolean {
    return this.config.databases.has(name) || this.autoDatabases.has(name);
  }

  removePool(pool: Pool): void {
    const key = `${pool.database.name}\0${pool.user}`;
    if (this.pools.get(key) !== pool) return;
    this.pools.delete(key);
    this.queriedSecrets.delete(key);
  }

  forgetDatabases(names: ReadonlySet<string>): void {
    for (const name of names) {
      this.topologies.get(name)?.stop();
      this.topologies.delete(name);
    }
    this.authQueries.forgetDatabases(names);
  }

  /** the password servers of this pool log in with: the forced user's, else the stored secret */
  private serverPassword(database: DatabaseConfig, user: string): string | null {
    if (database.user !== null && database.password !== null) return database.password;
    return this.lookupSecret(user) ?? this.queriedSecrets.get(`${database.name}\0${user}`) ?? null;
  }

  private loadAuthSecrets(config: Config): Map<string, string> {
    const file = config.settings.auth_file;
    if (file === null || file === '') return new Map();
    return parseAuthFile(readFileSync(file, 'utf8'), file);
  }

  private tick(): void {
    const now = clock.refresh();
    const loginTimeout = this.settings.client_login_timeout;
    if (loginTimeout > 0) {
      for (const client of this.clients) {
        if (client.inLogin && now - client.connectTime >= loginTimeout) {
          client.fail(
            new PoolerError('CLIENT_LOGIN_TIMEOUT', SqlState.protocolViolation, 'client_login_timeout: login took too long'),
            'login_timeout',
          );
        }
      }
    }
    for (const pool of this.pools.values()) {
      maintainPool(pool, now, this.settings, this.config.users.get(pool.user));
    }
    this.authQueries.closeIdle(now);
    if (now - this.lastReap >= REAP_INTERVAL_MS) {
      this.lastReap = now;
      const pools = this.pools.size;
      const databases = this.autoDatabases.size;
      reapIdle(this, now);
      const freedPools = pools - this.pools.size;
      const freedDatabases = databases - this.autoDatabases.size;
      if (freedPools > 0 || freedDatabases > 0) {
        this.log.info({ pools: freedPools, databases: freedDatabases }, 'freed idle pools and auto-databases (pool_idle_timeout, autodb_idle_timeout)');
      }
    }
    if (now - this.statsPeriodStart >= this.settings.stats_period) {
      this.statsPeriodStart = now;
      for (const stats of this.stats.values()) {
        stats.updateAverages();
        if (this.settings.log_stats) logStats(this.log, stats, this.settings.stats_period);
      }
    }
    if (this.waiters.length > 0) {
      const waiting = this.waiters;
      this.waiters = [];
      for (const waiter of waiting) {
        if (waiter.condition()) waiter.resolve();
        else this.waiters.push(waiter);
      }
    }
    if (this.shutdownMode !== null) this.checkShutdown();
  }

  private checkShutdown(): void {
    if (this.shutdownMode === 'drain') {
      if (this.shutdownDeadline > 0 && clock.now >= this.shutdownDeadline) {
        this.log.warn({ clients: this.clients.size }, 'shutdown_timeout reached: closing the clients that are left');
        return this.finishShutdown();
      }
      for (const client of [...this.clients]) {
        if (client.betweenTransactions) {
          client.fail(shuttingDown(), 'shutdown');
        }
      }
      if (this.clients.size === 0) this.finishShutdown();
      return;
    }
    if (this.shutdownMode === 'wait_for_clients') {
      if (this.clients.size === 0) this.finishShutdown();
      return;
    }
    if (this.shutdownMode === 'wait_for_servers') {
      let active = 0;
      for (const pool of this.pools.values()) {
        for (const client of pool.waitingClients.toArray()) {
          client.fail(shuttingDown('server shutting down'), 'shutdown');
        }
        active += pool.activeServers.size + pool.loginServers.size;
      }
      if (active === 0) this.finishShutdown();
    }
  }

  private finishShutdown(): void {
    if (this.janitor !== null) clearInterval(this.janitor);
    this.janitor = null;
    for (const client of [...this.clients]) {
      client.fail(shuttingDown(), 'shutdown');
    }
    for (const pool of this.pools.values()) {
      for (const list of [pool.idleServers, pool.activeServers, pool.loginServers, pool.usedServers, pool.testedServers]) {
        for (const server of list.toArray()) server.close('shutdown');
      }
    }
    this.authQueries.retireAll();
    for (const topology of this.topologies.values()) topology.stop();
    this.listener?.close();
    this.unixListener?.close();
    this.shutdownDone?.();
  }
}

/**
 * Whether the entry a database's servers were made from is one of `names` (a list from diffConfig):
 * its own entry, or `*` for one made from the fallback. A name listed now but made from `*` before
 * has changed entries, and so counts as changed too.
 */
function entryChanged(diff: ConfigDiff, before: Config, name: string, names: ReadonlySet<string>): boolean {
  if (diff.databases.added.includes(name)) return true;
  const entry = before.databases.has(name) ? name : FALLBACK_DATABASE;
  return names.has(entry) || diff.databases.removed.includes(entry);
}
