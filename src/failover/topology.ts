// Where one database's server connections go, and why: the configured host; the first suitable
// host of a libpq-style list (target_session_attrs); or the primary Patroni names and that member
// confirms. Tells the pooler when the target moves, and keeps what SHOW TOPOLOGY shows.
import type { DatabaseConfig, TargetSessionAttrs } from '../config/types.js';
import type { Logger } from '../log.js';
import { balancedReplicas, confirmsPrimary, pollCluster, type PatroniMember } from './patroni.js';

export interface ServerAddress {
  host: string;
  port: number;
}

/** a member as SHOW TOPOLOGY lists it: a Patroni member, or one host of a list */
export type TopologyMember = Omit<PatroniMember, 'apiUrl' | 'noloadbalance'>;

export type TopologyKind = 'static' | 'multi-host' | 'patroni';

export interface TopologyOptions {
  /** patroni_poll_interval, ms */
  pollInterval: number;
  log: Logger;
  /** the target moved (or vanished, or came back); `previous` is where it was */
  onChange(topology: Topology, previous: ServerAddress | null): void;
  /** read_write_split is on for the database: a host list's target is then its writable primary */
  splits?(database: DatabaseConfig): boolean;
}

/** while there is no primary, poll this often (ms) so clients wait as little as possible */
const FAST_POLL_MS = 200;

const sameAddress = (a: ServerAddress | null, b: ServerAddress | null): boolean =>
  a === b || (a !== null && b !== null && a.host === b.host && a.port === b.port);

export class Topology {
  readonly kind: TopologyKind;
  /** where new server connections go; null while there is no server to write to (clients are held) */
  current: ServerAddress | null;
  members: TopologyMember[] = [];
  /** Patroni: the members reads may be balanced over (streaming replicas without noloadbalance), a new array at each change */
  replicas: readonly ServerAddress[] = [];
  /** when `members` last came from a /cluster answer (ms since the epoch); 0 before the first */
  membersPolledAt = 0;
  /** when `current` last changed (ms since the epoch), and why */
  lastChange = Date.now();
  reason = 'configured';
  /** how many times the target moved */
  changes = 0;
  /** since when there has been no target (ms since the epoch); 0 while there is one */
  noTargetSince = 0;
  /** multi-host: the index of `current` in the list, and how many hosts were turned down in a row */
  private index = 0;
  private misses = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private pollAgain = false;
  private stopped = false;

  constructor(
    public database: DatabaseConfig,
    private readonly options: TopologyOptions,
  ) {
    this.kind = database.patroni.length > 0 ? 'patroni' : database.hosts.length > 1 || database.target_session_attrs !== 'any' ? 'multi-host' : 'static';
    this.current = this.kind === 'patroni' ? null : { ...database.hosts[0]! };
    if (this.current === null) this.noTargetSince = Date.now();
    this.members = database.hosts.map((h, i) => ({ name: `host${i + 1}`, host: h.host, port: h.port, role: 'unknown', state: 'unknown', lag: null }));
    if (this.kind === 'patroni') this.members = [];
  }

  get name(): string {
    return this.database.name;
  }

  /** the role servers must have: a primary, a standby, or either */
  get wants(): TargetSessionAttrs {
    if (this.kind === 'multi-host' && this.options.splits?.(this.database) === true) return 'read-write';
    return this.kind === 'patroni' ? 'primary' : this.database.target_session_attrs;
  }

  start(): void {
    if (this.kind === 'patroni') void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Something suggests the target moved (a server said it is shutting down or read-only, a
   * connection broke): with Patroni, look now instead of at the next poll.
   */
  recheck(why: string): void {
    if (this.kind !== 'patroni' || this.stopped) return;
    this.options.log.debug({ db: this.name, why }, 'topology re-check');
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    void this.poll();
  }

  /**
   * A server at `address` cannot be used: it refused the connection, or logged in with the wrong
   * role for target_session_attrs. A multi-host list moves on to its next host.
   */
  reject(address: ServerAddress, why: string): void {
    if (this.kind === 'patroni') return this.recheck(why);
    if (this.kind !== 'multi-host' || !sameAddress(address, this.current)) return;
    const hosts = this.database.hosts;
    this.misses++;
    if (this.noTargetSince === 0) this.noTargetSince = Date.now();
    this.index = (this.index + 1) % hosts.length;
    this.moveTo({ ...hosts[this.index]! }, `${address.host}:${address.port} ${why}`);
  }

  /** a server logged in with this role: does target_session_attrs take it? */
  accepts(inRecovery: boolean, readOnly: boolean): boolean {
    const role = (state: string) => {
      const member = this.members.find((m) => sameAddress(m, this.current));
      if (member !== undefined && this.kind === 'multi-host') member.role = state;
    };
    role(inRecovery ? 'standby' : 'primary');
    switch (this.wants) {
      case 'any':
        return true;
      case 'read-write':
        return !inRecovery && !readOnly;
      case 'primary':
        return !inRecovery;
      case 'read-only':
        return inRecovery || readOnly;
      case 'standby':
        return inRecovery;
      case 'prefer-standby':
        // a standby if any host is one; after every host was tried, whatever answers
        return inRecovery || this.misses >= this.database.hosts.length;
    }
  }

  /** a server logged in and was accepted: the host list stops moving */
  confirmed(): void {
    this.misses = 0;
    if (this.current !== null) this.noTargetSince = 0;
  }

  /** no server to use right now (no primary, or every host turned down since the last good one): clients wait */
  get holding(): boolean {
    return this.noTargetSince !== 0;
  }

  /** what clients are waiting for, in words */
  get lacking(): string {
    const wants = this.wants;
    return wants === 'primary' || wants === 'read-write' ? 'writable primary' : wants === 'any' ? 'reachable server' : `server with target_session_attrs=${wants}`;
  }

  /** RELOAD: the entry may have changed; a static target follows at once */
  update(database: DatabaseConfig): void {
    this.database = database;
    if (this.kind === 'static') this.moveTo({ ...database.hosts[0]! }, 'configuration reloaded');
  }

  private moveTo(next: ServerAddress | null, why: string): void {
    if (sameAddress(next, this.current)) return;
    const previous = this.current;
    this.current = next;
    this.lastChange = Date.now();
    this.reason = why;
    this.changes++;
    if (next === null && this.noTargetSince === 0) this.noTargetSince = Date.now();
    if (next !== null) this.noTargetSince = 0;
    const from = previous === null ? 'none' : `${previous.host}:${previous.port}`;
    const to = next === null ? 'none (holding clients)' : `${next.host}:${next.port}`;
    this.options.log.warn({ db: this.name, from, to, why }, `database ${this.name}: server target ${from} -> ${to}: ${why}`);
    this.options.onChange(this, previous);
  }

  private async poll(): Promise<void> {
    this.polling = true;
    this.timer = null;
    const timeout = Math.max(200, Math.min(1000, this.options.pollInterval));
    try {
      const view = await pollCluster(this.database.patroni, timeout);
      if (view.members.length === 0 && this.current !== null) {
        // no API answered: that says nothing about PostgreSQL, so keep the primary we have; a
        // server that fails will bring us back here
        this.options.log.warn({ db: this.name, problem: view.problem }, 'Patroni did not answer; keeping the current primary');
        return;
      }
      this.members = view.members.map(toMember);
      const replicas = balancedReplicas(view.members).map((m) => ({ host: m.host, port: m.port }));
      if (!sameAddresses(replicas, this.replicas)) this.replicas = replicas;
      this.membersPolledAt = Date.now();
      let next: ServerAddress | null = null;
      let why = view.problem ?? '';
      if (view.leader !== null) {
        if (await confirmsPrimary(view.leader, timeout)) {
          next = { host: view.leader.host, port: view.leader.port };
          why = `Patroni leader is ${view.leader.name}`;
        } else {
          why = `leader ${view.leader.name} does not confirm it is a writable primary yet`;
        }
      }
      if (!this.stopped) this.moveTo(next, why);
    } catch (error) {
      this.options.log.warn({ db: this.name, err: (error as Error).message }, 'Patroni poll failed');
    } finally {
      this.polling = false;
    }
    if (this.stopped) return;
    if (this.pollAgain) {
      this.pollAgain = false;
      return void this.poll();
    }
    const wait = this.current === null ? Math.min(FAST_POLL_MS, this.options.pollInterval) : this.options.pollInterval;
    this.timer = setTimeout(() => void this.poll(), wait);
    this.timer.unref();
  }
}

function sameAddresses(a: readonly ServerAddress[], b: readonly ServerAddress[]): boolean {
  return a.length === b.length && a.every((address, i) => sameAddress(address, b[i]!));
}

function toMember(m: PatroniMember): TopologyMember {
  return { name: m.name, host: m.host, port: m.port, role: m.role, state: m.state, lag: m.lag };
}
