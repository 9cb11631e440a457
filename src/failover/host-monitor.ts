// The host monitor: for each database with several hosts (a libpq host list) or Patroni, one
// MonitoredHost per host, checked on the janitor tick (Patroni's view of the member where there is
// a fresh one, else a login and REPLICA_STATUS_SQL) and told of failures by the pool. Each ban,
// return, lag-out and catch-up is one log line. It routes nothing: pools ask usable().
import { effectiveSetting } from '../config/effective.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import type { Logger } from '../log.js';
import type { HealthEvent, HealthPolicy } from './host-health.js';
import { MonitoredHost, type HostRole } from './monitored-host.js';
import { isLeaderRole, memberRuns } from './patroni.js';
import { lagBytes } from './replica-lag.js';
import type { ServerAddress, Topology } from './topology.js';

/** what a login check found on one host */
export interface HostStatus {
  inRecovery: boolean;
  /** a standby's replay position; null on a primary */
  replayLsn: bigint | null;
  /** how long replay has been behind what the standby received, ms */
  replayDelayMs: number;
  /** a primary's WAL insert position, read after its role; null on a standby */
  primaryLsn: bigint | null;
}

/**
 * The checks that need a server connection. Declared here and implemented in core/ over
 * ServerConnection (failover/ does not import server/), so unit tests hand in a fake.
 */
export interface HostChecker {
  /**
   * Log in as the pooler does and read the host's role and positions. Null when there is nobody
   * to log in as (no forced user, auth_user or pool yet); rejects when the host cannot be
   * reached, refuses the login, or the query fails or times out.
   */
  status(database: DatabaseConfig, address: ServerAddress): Promise<HostStatus | null>;
  /** the primary's WAL insert position now, or null when there is nobody to log in as */
  primaryLsn(database: DatabaseConfig, address: ServerAddress): Promise<bigint | null>;
  /** end the checks that are out */
  stop(): void;
}

export interface HostMonitorContext {
  readonly log: Logger;
  readonly checker: HostChecker;
  /** the settings in effect (RELOAD and SET change them) */
  settings(): Settings;
  /** ms since the epoch (the pooler's cached clock) */
  now(): number;
}

/** one host of a database as SHOW HOSTS starts from: its live state where the monitor checks it */
export interface HostEntry {
  address: ServerAddress;
  role: HostRole;
  /** null for a database with one host and no Patroni: nothing checks it */
  monitored: MonitoredHost | null;
}

/** a monitored database's hosts as others read them (the replay poll) */
export interface MonitoredHosts {
  readonly topology: Topology;
  readonly hosts: readonly MonitoredHost[];
}

/** a database's hosts, rebuilt when its host list or Patroni's member list changes */
class MonitoredDatabase implements MonitoredHosts {
  hosts: MonitoredHost[] = [];
  /** what `hosts` were made from: the entry's host list, or the member array a Patroni poll replaced */
  source: readonly ServerAddress[] | null = null;
  /** the primary's WAL position as last read, and when: the replicas' byte lag is measured against it */
  primaryLsn: bigint | null = null;
  primaryLsnAt = 0;
  warnedNoLogin = false;

  constructor(public topology: Topology) {}

  find(address: ServerAddress): MonitoredHost | null {
    for (const host of this.hosts) if (host.is(address)) return host;
    return null;
  }
}

interface Outcome {
  host: MonitoredHost;
  action: 'check' | 'probe';
  ok: boolean;
  why: string;
  /** null: the check could not tell (no login to check with) */
  role: HostRole | null;
  status: HostStatus | null;
  /** when the check was started: the replay position it read is at least as new */
  sentAt: number;
  /** Patroni's lag for the member, bytes */
  patroniLag: number | null;
  /** how long a failure bans the host; null: server_ban_time */
  banMs: number | null;
}

/** several hosts, or Patroni: there is a choice to watch over; a single host has nowhere else to go */
export function isMonitored(topology: Topology): boolean {
  return topology.kind === 'patroni' || topology.database.hosts.length > 1;
}

export class HostMonitor {
  private readonly databases = new Map<string, MonitoredDatabase>();
  private stopped = false;

  constructor(private readonly context: HostMonitorContext) {}

  /** the janitor tick: follow the topologies' host lists and start the checks and probes that are due */
  tick(topologies: Iterable<Topology>): void {
    if (this.stopped) return;
    const settings = this.context.settings();
    const seen = new Set<string>();
    for (const topology of topologies) {
      if (!isMonitored(topology)) continue;
      seen.add(topology.name);
      let db = this.databases.get(topology.name);
      if (db === undefined) {
        db = new MonitoredDatabase(topology);
        this.databases.set(topology.name, db);
      }
      db.topology = topology;
      this.sync(db, policyFor(settings, topology.database));
      let round: Promise<Outcome>[] | null = null;
      for (const host of db.hosts) {
        const action = host.due();
        if (action === null) continue;
        host.inFlight = true;
        (round ??= []).push(this.check(db, host, action, settings));
      }
      if (round !== null) void this.finish(db, round);
    }
    for (const [name, db] of this.databases) {
      if (seen.has(name)) continue;
      for (const host of db.hosts) host.forgetReplay();
      this.databases.delete(name);
    }
  }

  /** every database the monitor follows, with its hosts as of the last tick */
  monitored(): IterableIterator<MonitoredHosts> {
    return this.databases.values();
  }

  /** the hosts of a database, in order; one unchecked entry for a single static host */
  hostsOf(topology: Topology): HostEntry[] {
    const db = this.databases.get(topology.name);
    if (db !== undefined && isMonitored(topology)) return db.hosts.map((host) => ({ address: host.address, role: host.role, monitored: host }));
    if (topology.kind === 'patroni') return [];
    const address = topology.current ?? topology.database.hosts[0];
    if (address === undefined) return [];
    // a single host with target_session_attrs learns its role from the pools' logins
    const member = topology.members.find((m) => m.host === address.host && m.port === address.port);
    const role: HostRole = member?.role === 'primary' || member?.role === 'standby' ? member.role : 'unknown';
    return [{ address, role, monitored: null }];
  }

  /** the host's live object, for a pool that keeps it; null when the database or host is not monitored */
  host(database: string, address: ServerAddress): MonitoredHost | null {
    return this.databases.get(database)?.find(address) ?? null;
  }

  /** may the host get a new transaction? true for hosts nothing monitors */
  usable(database: string, address: ServerAddress): boolean {
    return this.host(database, address)?.usable ?? true;
  }

  /** a connect or query to the host failed, not with an SQL error: server_ban_failures in a row ban it */
  reportFailure(database: string, address: ServerAddress, why: string): void {
    this.host(database, address)?.failed(why);
  }

  /** a connect or query to the host worked */
  reportSuccess(database: string, address: ServerAddress): void {
    this.host(database, address)?.succeeded();
  }

  /** a transaction routed to the host ended after `ms` (SHOW HOSTS transactions and avg_xact_us) */
  transactionDone(database: string, address: ServerAddress, ms: number): void {
    this.host(database, address)?.transactionDone(ms);
  }

  stop(): void {
    this.stopped = true;
    this.context.checker.stop();
  }

  private sync(db: MonitoredDatabase, policy: HealthPolicy): void {
    const topology = db.topology;
    const source: readonly ServerAddress[] = topology.kind === 'patroni' ? topology.members : topology.database.hosts;
    if (source !== db.source) {
      // hosts that stay keep their state: a reload or a Patroni poll does not lift a ban
      const hosts = source.map((address) => db.find(address) ?? this.newHost(db, address, policy));
      for (const host of db.hosts) if (!hosts.includes(host)) host.forgetReplay();
      db.hosts = hosts;
      db.source = source;
    }
    for (const host of db.hosts) host.health.policy = policy;
  }

  private newHost(db: MonitoredDatabase, address: ServerAddress, policy: HealthPolicy): MonitoredHost {
    return new MonitoredHost({ host: address.host, port: address.port }, policy, () => this.context.now(), (host, event) => this.logEvent(db, host, event));
  }

  private logEvent(db: MonitoredDatabase, host: MonitoredHost, event: HealthEvent): void {
    const name = db.topology.name;
    const fields = { db: name, host: event.host, event: event.kind, role: host.role };
    const message = `database ${name}: ${event.message}`;
    if (event.kind === 'banned' || event.kind === 'lagging') this.context.log.warn(fields, message);
    else this.context.log.info(fields, message);
  }

  /**
   * One check or probe. Patroni members are judged from the topology's last /cluster answer while
   * it is fresh (three polls), so checks cost no connection; with no fresh answer (Patroni is
   * unreachable), a login tells instead, as it does for a host list.
   */
  private async check(db: MonitoredDatabase, host: MonitoredHost, action: 'check' | 'probe', settings: Settings): Promise<Outcome> {
    const topology = db.topology;
    const outcome: Outcome = { host, action, ok: true, why: '', role: null, status: null, sentAt: this.context.now(), patroniLag: null, banMs: null };
    if (topology.kind === 'patroni' && this.context.now() - topology.membersPolledAt <= 3 * settings.patroni_poll_interval) {
      const member = topology.members.find((m) => host.is(m));
      if (member === undefined) return { ...outcome, ok: false, why: "not in Patroni's member list", banMs: 2 * settings.patroni_poll_interval };
      outcome.ok = memberRuns(member);
      outcome.why = `Patroni reports it ${member.state}`;
      // Patroni's word, not a failure seen: a member restarting (a demoted leader) streams again
      // seconds later, and the next poll that says so brings it back, not server_ban_time from now
      outcome.banMs = 2 * settings.patroni_poll_interval;
      outcome.role = isLeaderRole(member.role) ? 'primary' : 'standby';
      outcome.patroniLag = outcome.role === 'primary' ? 0 : member.lag;
      return outcome;
    }
    try {
      const status = await this.context.checker.status(topology.database, host.address);
      if (status === null) {
        this.warnNoLogin(db);
        return outcome;
      }
      outcome.status = status;
      outcome.role = status.inRecovery ? 'standby' : 'primary';
    } catch (error) {
      outcome.ok = false;
      outcome.why = (error as Error).message;
    }
    return outcome;
  }

  /** a round's checks are back: apply them, then measure the standbys against the primary's position */
  private async finish(db: MonitoredDatabase, round: Promise<Outcome>[]): Promise<void> {
    const started = this.context.now();
    const outcomes = await Promise.all(round);
    const standbys: Outcome[] = [];
    for (const o of outcomes) {
      o.host.inFlight = false;
      if (!this.current(db, o.host)) continue;
      o.host.checked(o.action, o.ok, o.why, o.banMs ?? undefined);
      if (!o.ok || o.role === null) continue;
      o.host.role = o.role;
      if (o.role === 'primary') o.host.forgetReplay();
      else if (o.status !== null) o.host.observeReplay(o.status.replayLsn, o.sentAt);
      if (o.status === null) {
        o.host.health.observeLag(o.patroniLag, null);
      } else if (o.role === 'primary') {
        if (o.status.primaryLsn !== null) {
          db.primaryLsn = o.status.primaryLsn;
          db.primaryLsnAt = this.context.now();
        }
        o.host.health.observeLag(0, 0);
      } else {
        standbys.push(o);
      }
    }
    if (standbys.length === 0) return;
    // Bytes of lag need the primary's position read with (or after) the standbys': a position from
    // an earlier round would hide what was written since. Checked together, the reads are
    // milliseconds apart; when the primary was not in this round, ask it now.
    if (db.primaryLsnAt < started) await this.readPrimaryLsn(db);
    const fresh = db.primaryLsnAt >= started ? db.primaryLsn : null;
    for (const o of standbys) {
      if (!this.current(db, o.host)) continue;
      const replay = o.status!.replayLsn;
      o.host.health.observeLag(fresh !== null && replay !== null ? lagBytes(fresh, replay) : null, o.status!.replayDelayMs);
    }
  }

  private async readPrimaryLsn(db: MonitoredDatabase): Promise<void> {
    const primary = db.hosts.find((h) => h.role === 'primary' && h.health.state === 'up');
    if (primary === undefined) return;
    try {
      const lsn = await this.context.checker.primaryLsn(db.topology.database, primary.address);
      if (lsn === null) return;
      db.primaryLsn = lsn;
      db.primaryLsnAt = this.context.now();
    } catch {
      // the primary's own check will say what is wrong with it; lag in bytes stays unknown meanwhile
    }
  }

  /** the host is still one this monitor follows (not dropped by a reload or a member change) */
  private current(db: MonitoredDatabase, host: MonitoredHost): boolean {
    return !this.stopped && this.databases.get(db.topology.name) === db && db.hosts.includes(host);
  }

  private warnNoLogin(db: MonitoredDatabase): void {
    if (db.warnedNoLogin) return;
    db.warnedNoLogin = true;
    this.context.log.warn(
      { db: db.topology.name },
      `database ${db.topology.name}: no user to log in as for health checks yet (a forced user=, auth_user, or a pool's user once a client came); until then they pass unchecked`,
    );
  }
}

/** health_check_period, server_ban_time and server_ban_failures are global; max_replica_lag may be per database */
function policyFor(settings: Settings, database: DatabaseConfig): HealthPolicy {
  return {
    banAfterFailures: settings.server_ban_failures,
    banTime: settings.server_ban_time,
    checkPeriod: settings.health_check_period,
    maxLag: effectiveSetting(settings, 'max_replica_lag', database),
  };
}
