// One host of a database as the host monitor keeps it: its HostHealth, the role and lag its last
// check found and when, its bans counted by kind (for metrics), and the routing counters the pool
// feeds. A stable object the pool may hold and call directly, allocation-free.
import type { HealthAction, HealthEvent, HealthPolicy } from './host-health.js';
import { HostHealth } from './host-health.js';
import { MovingAverage } from './moving-average.js';
import type { ServerAddress } from './topology.js';

export type HostRole = 'primary' | 'standby' | 'unknown';

/** why a host was taken out, as the metric pooler_host_bans_total labels it */
export type BanKind =
  | 'failures' /* server_ban_failures connect or query failures in a row, reported by the pool */
  | 'health_check' /* an active check failed */
  | 'probe' /* the one probe after server_ban_time failed */
  | 'replica_lag'; /* over max_replica_lag (taken out, not banned: it returns once caught up) */

export const BAN_KINDS: readonly BanKind[] = ['failures', 'health_check', 'probe', 'replica_lag'];

export class MonitoredHost {
  readonly health: HostHealth;
  role: HostRole = 'unknown';
  /** when the last check or probe came back (ms since the epoch); 0 before the first */
  checkedAt = 0;
  /** a check or probe is out: due() is not asked again until it is back */
  inFlight = false;
  /** never checked yet: the first check runs on the first tick, not one period later */
  fresh = true;
  readonly bans: Record<BanKind, number> = { failures: 0, health_check: 0, probe: 0, replica_lag: 0 };
  /** transactions routed here and their moving-average time (ms); the pool feeds both (transactionDone) */
  transactions = 0;
  readonly transactionTime = new MovingAverage();
  /**
   * A standby's replay position as last read (read_your_writes = lsn), and when (ms since the
   * epoch); null while unknown or on a primary. Replay only moves forward, so an old reading is
   * still a safe lower bound: a client whose commit it covers sees its write there.
   */
  replayLsn: bigint | null = null;
  replayLsnAt = 0;

  constructor(
    readonly address: ServerAddress,
    policy: HealthPolicy,
    readonly now: () => number,
    onEvent: (host: MonitoredHost, event: HealthEvent) => void,
  ) {
    this.health = new HostHealth(`${address.host}:${address.port}`, policy, now, (event) => {
      if (event.kind === 'lagging') this.bans.replica_lag++;
      onEvent(this, event);
    });
  }

  is(address: ServerAddress): boolean {
    return this.address.host === address.host && this.address.port === address.port;
  }

  /** may the host get a new transaction: up, and not lagging */
  get usable(): boolean {
    return this.health.usable;
  }

  /** a connect or query failed for a reason other than an SQL error */
  failed(why: string): void {
    const before = this.health.bans;
    this.health.failed(why);
    if (this.health.bans > before) this.bans.failures++;
  }

  /** a connect or a query worked: the failures in a row start over */
  succeeded(): void {
    this.health.succeeded();
  }

  /** a transaction routed here ended after `ms` */
  transactionDone(ms: number): void {
    this.transactions++;
    this.transactionTime.add(ms);
  }

  /**
   * A replay position read by a query sent at `sentAt` (ms since the epoch); null: not a standby.
   * The poll and the health check both read it, and a slow answer must not overwrite a newer one,
   * so readings apply in the order they were asked for. A lower position from a later query does
   * apply: a standby rebuilt from a new base backup really is behind where it was.
   */
  observeReplay(lsn: bigint | null, sentAt: number): void {
    if (sentAt < this.replayLsnAt) return;
    this.replayLsn = lsn;
    this.replayLsnAt = sentAt;
  }

  /**
   * The host is a primary now, or no longer followed: its old position would route reads wrongly.
   * Dated `now`, so an answer to a query sent before cannot bring it back.
   */
  forgetReplay(): void {
    this.replayLsn = null;
    this.replayLsnAt = this.now();
  }

  /** what to start now: the first check at once, then as HostHealth says */
  due(): HealthAction {
    if (this.inFlight) return null;
    if (this.fresh) {
      this.fresh = false;
      return 'check';
    }
    return this.health.due();
  }

  /** the outcome of the check or probe due() asked for */
  checked(action: 'check' | 'probe', ok: boolean, why?: string, banMs?: number): void {
    this.checkedAt = this.now();
    const before = this.health.bans;
    this.health.checked(action, ok, why, banMs);
    if (this.health.bans > before) this.bans[action === 'check' ? 'health_check' : 'probe']++;
  }
}
