// What the console reads and does, declared here so admin/ needs nothing above it: snapshot views of
// the pooler for SHOW (plain data built when asked; metrics/ reads the same ones) and one method per
// control command. core/console-context.ts implements it.
import type { Config, DatabaseConfig, PoolMode } from '../config/types.js';
import type { Logger } from '../log.js';
import type { DatabaseStats } from '../stats/database-stats.js';

export interface PoolSnapshot {
  database: string;
  user: string;
  mode: PoolMode;
  clientsActive: number;
  /** waiting for a server, including those still waiting for their first (the welcome) */
  clientsWaiting: number;
  serversActive: number;
  serversIdle: number;
  serversUsed: number;
  serversTested: number;
  serversLogin: number;
  /** all of its clients, all of its servers */
  clientCount: number;
  serverCount: number;
  /** how long the oldest waiting client has waited, ms */
  maxWait: number;
  poolSize: number;
  reservePoolSize: number;
  /** the most servers linked at once */
  peakActive: number;
  /** pool_size comes from `default_pool_size = auto`, not from the database, the user or a number */
  autoSized: boolean;
  /** the last server login failure, while the pool has no server */
  loginError: string | null;
}

export interface SocketAddresses {
  /** undefined for a Unix socket */
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

export interface ClientSnapshot extends SocketAddresses {
  id: number;
  /** null until the startup packet arrived */
  user: string | null;
  database: string | null;
  /** its state in its pool; 'console' for a console session */
  state: 'login' | 'waiting_login' | 'waiting' | 'active' | 'console';
  /** before and during authentication */
  inLogin: boolean;
  /** the linked server's id */
  server: number | null;
  connectTime: number;
  lastActivity: number;
  /** ms waited so far for a server; 0 when not waiting */
  wait: number;
  tls: string;
  applicationName: string;
  preparedStatements: number;
  /** what pins the client (of this server) to its server, comma-separated; '' when nothing does */
  pinReason: string;
}

export interface ServerSnapshot extends SocketAddresses {
  id: number;
  database: string;
  user: string;
  state: 'login' | 'idle' | 'active' | 'used' | 'tested';
  /** the linked client's id */
  client: number | null;
  connectTime: number;
  lastUsed: number;
  closeNeeded: boolean;
  processId: number;
  applicationName: string;
  preparedStatements: number;
  /** what pins the client (of this server) to its server, comma-separated; '' when nothing does */
  pinReason: string;
}

export interface TopologyMemberSnapshot {
  name: string;
  host: string;
  port: number;
  /** as discovery has it: Patroni's words, or the role a pool's login found */
  role: string;
  state: string;
  lag: number | null;
  /** the host monitor's view of the member (as SHOW HOSTS has it); null where it has no entry for it */
  monitor: MemberHealth | null;
}

/** one host as the host monitor last saw it */
export interface MemberHealth {
  role: 'primary' | 'standby' | 'unknown';
  /** up, banned, probing, or lagging (up but over max_replica_lag) */
  health: 'up' | 'banned' | 'probing' | 'lagging';
  lagBytes: number | null;
  lagMs: number | null;
  /** a standby's replay position (pg_lsn text); null when unknown or a primary */
  replayLsn: string | null;
}

export interface TopologySnapshot {
  database: string;
  kind: string;
  /** where new server connections go; null while there is none (a failover) */
  current: { host: string; port: number } | null;
  members: TopologyMemberSnapshot[];
  changes: number;
  lastChange: number;
  reason: string;
  /** since when there has been no target (Date.now() ms); 0 while there is one */
  noTargetSince: number;
  /** clients are held until a target appears */
  holding: boolean;
}

/** one host of a database as SHOW HOSTS lists it (failover/host-monitor.ts checks it) */
export interface HostSnapshot {
  database: string;
  host: string;
  port: number;
  role: 'primary' | 'standby' | 'unknown';
  state: 'up' | 'banned' | 'probing';
  /** over max_replica_lag: no new transactions until caught up */
  lagging: boolean;
  /** ms since the epoch; 0 unless banned */
  bannedUntil: number;
  banReason: string | null;
  lagBytes: number | null;
  lagMs: number | null;
  /** when the last check came back (ms since the epoch); 0: never */
  checkedAt: number;
  /** false for a single static host, which nothing checks */
  monitored: boolean;
  /** times taken out, by why: failures, health_check, probe, replica_lag */
  bans: Readonly<Record<string, number>>;
  /** server connections to this host linked to clients / ready for one (idle and used) */
  activeServers: number;
  idleServers: number;
  /** transactions routed to the host and their moving-average time; fed once pools route per host */
  transactions: number;
  avgTransactionMs: number;
  /** a standby's replay position as last read (pg_lsn text), by its check or the replay poll; null when unknown or a primary */
  replayLsn: string | null;
}

/** what SHOW and the metrics read */
export interface ConsoleView {
  /** the configuration in effect, with SET applied; read only */
  readonly config: Readonly<Config>;
  /** the name SHOW output gives the console, as PgBouncer's exporters expect */
  readonly consoleName: string;
  pools(): PoolSnapshot[];
  /** every client connection, console sessions and logins included */
  clients(): ClientSnapshot[];
  servers(): ServerSnapshot[];
  /** listed databases, then those made from `*` that are still known */
  databases(): DatabaseConfig[];
  /** the counters per database, for reading only */
  stats(): readonly DatabaseStats[];
  topologies(): TopologySnapshot[];
  /** every host of every database the pooler follows */
  hosts(): HostSnapshot[];
  consoleSessions(): number;
  /** PAUSE (or KILL) holds `database`, or with null: every database, or any */
  isPaused(database: string | null): boolean;
  /** PAUSE without a database is in force */
  readonly pausedAll: boolean;
  isDisabled(database: string): boolean;
  /** SUSPEND (online restart) is refused, so this stays false; SHOW STATE reports it */
  readonly suspended: boolean;
  /** set once shutdown began */
  readonly shutdownMode: string | null;
}

/** the control commands, each doing exactly what its name says; admin/control.ts checks and answers */
export interface ConsoleControl {
  readonly log: Logger;
  /** hold new work for `database` (every one: null), close unused servers, and resolve once its servers are gone (true) or a RESUME came first (false) */
  pause(database: string | null): Promise<boolean>;
  resume(database: string | null): void;
  disable(database: string): void;
  enable(database: string): void;
  /** servers close now when unused, else when released */
  reconnect(database: string | null): void;
  /** every client and server of the database(s) goes now; the database stays paused */
  kill(database: string | null): void;
  /** false when there is no such client (console sessions are not killed) */
  killClient(id: number): boolean;
  /** read the configuration again and apply it; throws when it is invalid */
  reload(): void;
  /** set a reloadable setting from its text; throws ConfigError on a bad value */
  set(key: string, value: string): void;
  shutdown(mode: 'immediate' | 'wait_for_clients' | 'wait_for_servers'): void;
  /** resolves once no server of the database(s) is still waiting to be closed */
  waitClose(database: string | null): Promise<void>;
}

export type ConsoleContext = ConsoleView & ConsoleControl;
