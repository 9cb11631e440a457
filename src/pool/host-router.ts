// Host pools of a replica entry (a libpq host list wanting standbys, load_balance other than first):
// one RoutedHost per host with this pool's server counts, its health and role, and the Balancer
// choosing the host of each server assignment. Pools of any other entry never make one.
import { clock } from '../clock.js';
import type { DatabaseConfig, LoadBalance, TargetSessionAttrs } from '../config/types.js';
import { Balancer, type BalancedHost, type Random } from '../failover/balancer.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
import { hasReplayed } from '../failover/replica-lag.js';
import type { ServerAddress, TopologyKind } from '../failover/topology.js';

export type RoleSeen = 'primary' | 'standby' | 'unknown';

export class RoutedHost implements BalancedHost {
  /** this pool's servers on the host: all of them, those lent to clients, those logging in or being checked */
  servers = 0;
  active = 0;
  pending = 0;
  /** what the last login here found, and when (ms); the monitor's newer check wins over it */
  loginRole: RoleSeen = 'unknown';
  loginRoleAt = 0;
  readOnly = false;
  /** after a failed login, the host is passed over until then (ms), so waiting clients try another */
  retryAt = 0;
  /** the dispatch round that found no idle server here and launched what it could: later clients of that round skip it */
  exhaustedIn = 0;
  private found: MonitoredHost | null = null;

  constructor(
    readonly address: ServerAddress,
    readonly weight: number,
    /** the host monitor's object, which exists only from its first tick on: looked up until found */
    private readonly lookup: (address: ServerAddress) => MonitoredHost | null,
  ) {}

  get monitored(): MonitoredHost | null {
    return (this.found ??= this.lookup(this.address));
  }

  /** not banned, probing or lagging, and not just refused a login */
  get usable(): boolean {
    const monitored = this.monitored;
    return (monitored === null || monitored.usable) && clock.now >= this.retryAt;
  }

  get role(): RoleSeen {
    const monitored = this.monitored;
    if (monitored === null || monitored.role === 'unknown' || monitored.checkedAt < this.loginRoleAt) return this.loginRole;
    return monitored.role;
  }

  get avgTransactionMs(): number {
    return this.monitored?.transactionTime.value ?? 0;
  }
}

/** server counts of one side of a pool: a host's, or (read_write_split) the primary's */
export interface ServerCounts {
  servers: number;
  active: number;
  pending: number;
}

export class HostRouter {
  hosts: RoutedHost[];
  private readonly balancer: Balancer;
  private readonly wants: TargetSessionAttrs;
  /** the Patroni replica list `hosts` was made from; null for a fixed host list */
  private followed: readonly ServerAddress[] | null = null;
  /** prefer-standby over Patroni: the leader `hosts` ends with, the fallback */
  private leader: ServerAddress | null = null;
  /** read_your_writes: the position the host must have replayed for the current pick (0n: none) */
  private required = 0n;
  private readonly replayed = (host: RoutedHost): boolean =>
    this.preferred(host) && (this.required === 0n || hasReplayed(host.monitored?.replayLsn ?? null, this.required));
  /**
   * A host of unknown role is a candidate too: a login there is how its role is learnt, and a
   * server joins the pool only once its role suits the entry.
   */
  private readonly preferred = (host: RoutedHost): boolean => {
    const role = host.role;
    return role !== 'primary' || (this.wants === 'read-only' && host.readOnly);
  };
  private readonly primary = (host: RoutedHost): boolean => host.role === 'primary';

  /**
   * Replica hosts are balanced where the entry wants standbys: a libpq host list with load_balance
   * saying how, or Patroni's replicas (balanced even with load_balance = first, which then takes
   * the first replica Patroni lists: its leader is no standby).
   */
  static applies(kind: TopologyKind, database: DatabaseConfig, loadBalance: LoadBalance): boolean {
    const wants = database.target_session_attrs;
    const standbys = wants === 'standby' || wants === 'read-only' || wants === 'prefer-standby';
    if (kind === 'patroni') return standbys;
    return kind === 'multi-host' && loadBalance !== 'first' && database.hosts.length > 1 && standbys;
  }

  /**
   * `wants`: the entry's target_session_attrs, or 'standby' for the replica side of
   * read_write_split. `patroni`: the hosts are the cluster's replicas, followed as they change.
   */
  constructor(
    database: DatabaseConfig,
    readonly mode: LoadBalance,
    private readonly lookup: (address: ServerAddress) => MonitoredHost | null,
    random?: Random,
    wants: TargetSessionAttrs = database.target_session_attrs,
    patroni = false,
  ) {
    this.wants = wants;
    const weights = database.weight;
    this.hosts = patroni
      ? []
      : database.hosts.map((address, i) => new RoutedHost({ host: address.host, port: address.port }, weights.length === 0 ? 1 : (weights[i] ?? weights[0]!), lookup));
    if (patroni) this.followed = [];
    this.balancer = new Balancer(mode, random);
  }

  /**
   * Patroni's replicas as last polled: members that join are balanced from now on, members that
   * leave get no new transaction (their servers keep their host object until they close).
   */
  follow(replicas: readonly ServerAddress[], leader: ServerAddress | null): void {
    // prefer-standby falls back to the leader, so it is a host here too (the balancer passes it over while a standby can serve)
    const withLeader = this.wants === 'prefer-standby' && leader !== null;
    if (this.followed === null || (replicas === this.followed && withLeader === (this.leader !== null && sameHost(this.leader, leader)))) return;
    this.followed = replicas;
    this.leader = withLeader ? leader : null;
    const addresses = withLeader ? [...replicas, leader] : replicas;
    this.hosts = addresses.map((address) => this.hosts.find((h) => sameHost(h.address, address)) ?? new RoutedHost({ host: address.host, port: address.port }, 1, this.lookup));
    this.balancer.reset();
  }

  /** the same hosts, weights and mode: a reload keeps this router and its counts */
  sameAs(other: HostRouter | null): boolean {
    if (other === null || other.mode !== this.mode || other.wants !== this.wants || (other.followed === null) !== (this.followed === null)) return false;
    if (this.followed !== null) return true;
    if (other.hosts.length !== this.hosts.length) return false;
    return this.hosts.every((host, i) => {
      const o = other.hosts[i]!;
      return o.address.host === host.address.host && o.address.port === host.address.port && o.weight === host.weight;
    });
  }

  /** the host for the next server assignment, or null when none may take one now */
  pick(): RoutedHost | null {
    let i = this.balancer.pick(this.hosts, this.preferred);
    // prefer-standby: the primary only while no standby can take the transaction
    if (i === -1 && this.wants === 'prefer-standby') i = this.balancer.pick(this.hosts, this.primary);
    return i === -1 ? null : this.hosts[i]!;
  }

  /** read_write_split: a replica that has replayed `required` (read_your_writes), or null when none can take the read now */
  pickReplica(required: bigint): RoutedHost | null {
    this.required = required;
    const i = this.balancer.pick(this.hosts, this.replayed);
    return i === -1 ? null : this.hosts[i]!;
  }

  /** a client chose `host` earlier and still waits: may it keep waiting for that host? */
  stillFits(host: RoutedHost, required = 0n): boolean {
    if (this.followed !== null && !this.hosts.includes(host)) return false;
    return host.usable && (this.preferred(host) || this.wants === 'prefer-standby') && (required === 0n || hasReplayed(host.monitored?.replayLsn ?? null, required));
  }

  /** a server logged in on `host` with this role: remember it, and say whether the entry takes it */
  learned(host: RoutedHost, inRecovery: boolean, readOnly: boolean): boolean {
    host.loginRole = inRecovery ? 'standby' : 'primary';
    host.loginRoleAt = clock.now;
    host.readOnly = readOnly;
    if (this.wants === 'standby') return inRecovery;
    if (this.wants === 'read-only') return inRecovery || readOnly;
    return true;
  }
}

function sameHost(a: ServerAddress, b: ServerAddress | null): boolean {
  return b !== null && a.host === b.host && a.port === b.port;
}
