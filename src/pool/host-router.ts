// Host pools of a replica entry (a libpq host list wanting standbys, load_balance other than first):
// one RoutedHost per host with this pool's server counts, its health and role, and the Balancer
// choosing the host of each server assignment. Pools of any other entry never make one.
import { clock } from '../clock.js';
import type { DatabaseConfig, LoadBalance, TargetSessionAttrs } from '../config/types.js';
import { Balancer, type BalancedHost, type Random } from '../failover/balancer.js';
import type { MonitoredHost } from '../failover/monitored-host.js';
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

export class HostRouter {
  readonly hosts: RoutedHost[];
  private readonly balancer: Balancer;
  private readonly wants: TargetSessionAttrs;
  /**
   * A host of unknown role is a candidate too: a login there is how its role is learnt, and a
   * server joins the pool only once its role suits the entry.
   */
  private readonly preferred = (host: RoutedHost): boolean => {
    const role = host.role;
    return role !== 'primary' || (this.wants === 'read-only' && host.readOnly);
  };
  private readonly primary = (host: RoutedHost): boolean => host.role === 'primary';

  /** replica hosts are balanced only where the entry wants standbys and load_balance says how */
  static applies(kind: TopologyKind, database: DatabaseConfig, loadBalance: LoadBalance): boolean {
    const wants = database.target_session_attrs;
    return kind === 'multi-host' && loadBalance !== 'first' && database.hosts.length > 1 && (wants === 'standby' || wants === 'read-only' || wants === 'prefer-standby');
  }

  constructor(
    database: DatabaseConfig,
    readonly mode: LoadBalance,
    lookup: (address: ServerAddress) => MonitoredHost | null,
    random?: Random,
  ) {
    this.wants = database.target_session_attrs;
    const weights = database.weight;
    this.hosts = database.hosts.map(
      (address, i) => new RoutedHost({ host: address.host, port: address.port }, weights.length === 0 ? 1 : (weights[i] ?? weights[0]!), lookup),
    );
    this.balancer = new Balancer(mode, random);
  }

  /** the same hosts, weights and mode: a reload keeps this router and its counts */
  sameAs(other: HostRouter | null): boolean {
    if (other === null || other.mode !== this.mode || other.wants !== this.wants || other.hosts.length !== this.hosts.length) return false;
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

  /** a client chose `host` earlier and still waits: may it keep waiting for that host? */
  stillFits(host: RoutedHost): boolean {
    return host.usable && (this.preferred(host) || this.wants === 'prefer-standby');
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
