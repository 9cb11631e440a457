// The replay poll (read_your_writes = lsn): for each monitored database that splits reads, one
// persistent connection per host not known to be the primary, asked for its replay position every
// replica_lsn_poll_interval, into MonitoredHost.replayLsn. A slow or dead host holds up nobody.
import { effectiveSetting } from '../config/effective.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import type { DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import type { MonitoredHosts } from './host-monitor.js';
import type { MonitoredHost } from './monitored-host.js';
import type { ServerAddress } from './topology.js';

/** one persistent connection to a host, implemented in core/ (failover/ does not import server/) */
export interface ReplayConnection {
  /** the replay position now; null when the host is not in recovery. Rejects when the login, the connection or the query fails */
  replayLsn(): Promise<bigint | null>;
  close(reason: DisconnectReason): void;
}

export interface ReplayConnector {
  /** a connection logged in as the health checks log in (checkLogin); null while there is nobody to log in as */
  open(database: DatabaseConfig, address: ServerAddress): ReplayConnection | null;
}

export interface ReplayPollerContext {
  readonly log: Logger;
  readonly connector: ReplayConnector;
  /** the settings in effect (RELOAD and SET change them) */
  settings(): Settings;
  /** the host monitor's databases and hosts */
  databases(): Iterable<MonitoredHosts>;
  /** ms since the epoch, read fresh: the poll runs more often than the janitor refreshes the clock */
  now(): number;
}

/**
 * A host that keeps failing is tried again after one poll interval, then twice that, and so on up
 * to this: a standby that is down for a while costs a connection attempt every few seconds, not ten
 * a second. Its reads go to the primary meanwhile, which is correct, only slower.
 */
const MAX_RETRY_MS = 5000;

/** the poll of one host: its connection, the query out, and the failures in a row */
class Watch {
  connection: ReplayConnection | null = null;
  /** when the query out was sent; 0 while none is */
  sentAt = 0;
  /** no new connection before this (ms since the epoch) */
  retryAt = 0;
  failures = 0;

  constructor(
    readonly host: MonitoredHost,
    public database: DatabaseConfig,
  ) {}

  drop(reason: DisconnectReason): void {
    this.connection?.close(reason);
    this.connection = null;
    this.sentAt = 0;
  }
}

/** read_write_split on and read_your_writes = lsn: the routing needs the standbys' positions */
export function wantsReplayPositions(settings: Settings, database: DatabaseConfig): boolean {
  return effectiveSetting(settings, 'read_write_split', database) && effectiveSetting(settings, 'read_your_writes', database) === 'lsn';
}

export class ReplayPoller {
  private readonly watches = new Map<MonitoredHost, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly context: ReplayPollerContext) {}

  /** poll every replica_lsn_poll_interval (read again each time: it is reloadable) until stop() */
  start(): void {
    if (this.stopped || this.timer !== null) return;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dropAll('shutdown');
  }

  /**
   * One round: follow the databases and hosts that want polling (closing the connections of those
   * that no longer do), then send the query to each host that has none out.
   */
  tick(): void {
    if (this.stopped) return;
    const settings = this.context.settings();
    const now = this.context.now();
    const seen = new Set<MonitoredHost>();
    for (const db of this.context.databases()) {
      const database = db.topology.database;
      if (!wantsReplayPositions(settings, database)) continue;
      for (const host of db.hosts) {
        // the primary has no replay position, and reads that need one go there anyway
        if (host.role === 'primary') continue;
        seen.add(host);
        let watch = this.watches.get(host);
        if (watch === undefined) {
          watch = new Watch(host, database);
          this.watches.set(host, watch);
        } else if (watch.database !== database) {
          // RELOAD changed the entry: the next connection logs in with what it says now
          watch.drop('config_changed');
          watch.database = database;
        }
        this.poll(watch, now, settings);
      }
    }
    for (const [host, watch] of this.watches) {
      if (seen.has(host)) continue;
      watch.drop('client_close');
      this.watches.delete(host);
    }
  }

  private schedule(): void {
    // 0 turns the poll off and closes its connections (the health check still reads the positions,
    // every health_check_period); the timer keeps looking, so a SET or RELOAD turns it back on
    const interval = this.context.settings().replica_lsn_poll_interval;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        if (this.context.settings().replica_lsn_poll_interval > 0) this.tick();
        else this.dropAll('config_changed');
        if (!this.stopped) this.schedule();
      },
      interval > 0 ? interval : MAX_RETRY_MS,
    );
    this.timer.unref();
  }

  private poll(watch: Watch, now: number, settings: Settings): void {
    if (watch.sentAt !== 0) {
      // still waiting: skip this round, and give up on a host that has not answered for as long as
      // a login may take
      if (now - watch.sentAt > settings.server_connect_timeout) {
        this.failed(watch, `no answer within ${settings.server_connect_timeout / 1000}s (server_connect_timeout)`, 'internal_query_timeout', settings);
      }
      return;
    }
    if (watch.connection === null) {
      if (now < watch.retryAt) return;
      watch.connection = this.context.connector.open(watch.database, watch.host.address);
      if (watch.connection === null) {
        // nobody to log in as yet; the host monitor says so once
        watch.retryAt = now + settings.replica_lsn_poll_interval;
        return;
      }
    }
    const connection = watch.connection;
    const sentAt = now;
    watch.sentAt = sentAt;
    connection.replayLsn().then(
      (lsn) => {
        if (!this.current(watch, connection)) return;
        watch.sentAt = 0;
        // a check that found the host promoted while this answer was out has the last word
        if (watch.host.role !== 'primary') watch.host.observeReplay(lsn, sentAt);
        if (watch.failures > 0) this.context.log.info(this.fields(watch), `${this.label(watch)}: replay position read again`);
        watch.failures = 0;
      },
      (error: unknown) => {
        if (this.current(watch, connection)) this.failed(watch, (error as Error).message, 'client_close', this.context.settings());
      },
    );
  }

  private dropAll(reason: DisconnectReason): void {
    for (const watch of this.watches.values()) watch.drop(reason);
    this.watches.clear();
  }

  /** the login or the query failed: close, and connect again after a backoff */
  private failed(watch: Watch, why: string, reason: DisconnectReason, settings: Settings): void {
    watch.drop(reason);
    watch.failures++;
    const interval = Math.max(settings.replica_lsn_poll_interval, 1);
    watch.retryAt = this.context.now() + Math.min(interval * 2 ** (watch.failures - 1), Math.max(MAX_RETRY_MS, interval));
    // one line when the poll starts failing, not one per retry; the health check bans a host that is down
    if (watch.failures === 1) {
      this.context.log.warn({ ...this.fields(watch), error: why }, `${this.label(watch)}: cannot read its replay position (${why}); until it can, reads that need it go to the primary`);
    }
  }

  /** the answer is for the connection the watch still has, and the watch is still followed */
  private current(watch: Watch, connection: ReplayConnection): boolean {
    return !this.stopped && this.watches.get(watch.host) === watch && watch.connection === connection;
  }

  private fields(watch: Watch): Record<string, unknown> {
    return { db: watch.database.name, host: `${watch.host.address.host}:${watch.host.address.port}` };
  }

  private label(watch: Watch): string {
    return `database ${watch.database.name}: host ${watch.host.address.host}:${watch.host.address.port}`;
  }
}
