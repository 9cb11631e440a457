// One host's health as a state machine: up → banned (failures in a row, or a failed check) →
// probing (one check after server_ban_time) → up or banned again; and, beside it, lagging while a
// replica is over max_replica_lag. Says when to check or probe; reports each ban and return.
import type { ReplicaLagLimit } from '../config/types.js';
import { caughtUp, exceedsLagLimit } from './replica-lag.js';

export type HostState =
  | 'up' /* takes transactions unless lagging */
  | 'banned' /* none until bannedUntil */
  | 'probing'; /* none; the one probe is out and decides */

export interface HealthPolicy {
  /** server_ban_failures: connect or query failures in a row (not SQL errors) that ban; 0: never by count */
  banAfterFailures: number;
  /** server_ban_time, ms */
  banTime: number;
  /** health_check_period, ms; 0: no active checks */
  checkPeriod: number;
  /** max_replica_lag; nothing over the limit on either measure, or 0 for both: lag never takes the host out */
  maxLag: ReplicaLagLimit;
}

export type HealthEvent =
  | { kind: 'banned'; host: string; reason: string; until: number; message: string }
  | { kind: 'back'; host: string; message: string }
  | { kind: 'lagging'; host: string; lagBytes: number | null; lagMs: number | null; message: string }
  | { kind: 'caught_up'; host: string; message: string };

/** what the janitor should start for this host now */
export type HealthAction = 'check' | 'probe' | null;

export class HostHealth {
  state: HostState = 'up';
  /** over max_replica_lag: out of balancing until back under half of it */
  lagging = false;
  /** ms since the epoch; 0 unless banned */
  bannedUntil = 0;
  /** why the host is banned or being probed; null while up */
  reason: string | null = null;
  /** consecutive connect or query failures */
  failures = 0;
  /** how many times the host was banned */
  bans = 0;
  lagBytes: number | null = null;
  lagMs: number | null = null;
  /** an active check is out; no second one starts (a probe needs no flag: the state is 'probing') */
  private checking = false;
  private lastCheck: number;

  constructor(
    /** as log lines name it, 'host:port' */
    readonly name: string,
    public policy: HealthPolicy,
    private readonly now: () => number,
    private readonly onEvent: (event: HealthEvent) => void = () => {},
  ) {
    this.lastCheck = now();
  }

  /** may the host get a new transaction? the balancer's `usable` */
  get usable(): boolean {
    return this.state === 'up' && !this.lagging;
  }

  /** SHOW HOSTS' state column */
  get status(): HostState | 'lagging' {
    return this.state === 'up' && this.lagging ? 'lagging' : this.state;
  }

  /** a connect or query failed for a reason other than an SQL error (refused, reset, timed out) */
  failed(why: string): void {
    // while banned nothing new goes there, and while probing the probe decides
    if (this.state !== 'up') return;
    this.failures++;
    const limit = this.policy.banAfterFailures;
    if (limit > 0 && this.failures >= limit) this.ban(`${this.failures} failures in a row, the last: ${why}`);
  }

  /** a connect or a query worked */
  succeeded(): void {
    if (this.state === 'up') this.failures = 0;
  }

  /**
   * Called on the janitor tick. 'probe' once a ban has run out (the host is probing from then on,
   * so there is exactly one probe); 'check' every checkPeriod while up, one at a time. Report the
   * outcome of either with checked(action, ...).
   */
  due(): HealthAction {
    const now = this.now();
    if (this.state === 'banned' && now >= this.bannedUntil) {
      this.state = 'probing';
      return 'probe';
    }
    const period = this.policy.checkPeriod;
    if (this.state === 'up' && period > 0 && !this.checking && now - this.lastCheck >= period) {
      this.checking = true;
      return 'check';
    }
    return null;
  }

  /**
   * The outcome of the check or probe due() asked for. A check that comes back after the host was
   * banned in the meantime says nothing about the ban: only the probe ends it. A failure bans for
   * `banMs` (server_ban_time unless the caller knows better).
   */
  checked(action: 'check' | 'probe', ok: boolean, why = 'no answer', banMs = this.policy.banTime): void {
    this.lastCheck = this.now();
    if (action === 'check') {
      this.checking = false;
      if (this.state !== 'up') return;
      if (ok) this.failures = 0;
      else this.ban(`health check failed: ${why}`, banMs);
    } else if (this.state === 'probing') {
      if (ok) this.back();
      else this.ban(`probe failed: ${why}`, banMs);
    }
  }

  /** take the host out for `ms` (server_ban_time unless given); a ban in force is extended, not repeated */
  ban(reason: string, ms = this.policy.banTime): void {
    const until = this.now() + ms;
    if (this.state === 'banned') {
      this.bannedUntil = Math.max(this.bannedUntil, until);
      return;
    }
    this.state = 'banned';
    this.bannedUntil = until;
    this.reason = reason;
    this.bans++;
    const seconds = Math.round(ms / 100) / 10;
    this.onEvent({ kind: 'banned', host: this.name, reason, until, message: `host ${this.name} banned for ${seconds}s: ${reason}` });
  }

  /**
   * The latest lag reading (Patroni's /cluster, or replay position against the primary's); null
   * where a measure is unknown. Unknown on both counts leaves the host as it was.
   */
  observeLag(bytes: number | null, ms: number | null): void {
    this.lagBytes = bytes;
    this.lagMs = ms;
    if (bytes === null && ms === null) return;
    const limit = this.policy.maxLag;
    if (!this.lagging && exceedsLagLimit(limit, bytes, ms)) {
      this.lagging = true;
      this.onEvent({ kind: 'lagging', host: this.name, lagBytes: bytes, lagMs: ms, message: `host ${this.name} taken out: ${describeLag(bytes, ms)} behind, over max_replica_lag` });
    } else if (this.lagging && caughtUp(limit, bytes, ms)) {
      this.lagging = false;
      this.onEvent({ kind: 'caught_up', host: this.name, message: `host ${this.name} caught up (${describeLag(bytes, ms)} behind)` });
    }
  }

  private back(): void {
    this.state = 'up';
    this.bannedUntil = 0;
    this.reason = null;
    this.failures = 0;
    this.onEvent({ kind: 'back', host: this.name, message: `host ${this.name} back` });
  }
}

function describeLag(bytes: number | null, ms: number | null): string {
  const parts: string[] = [];
  if (bytes !== null) parts.push(`${bytes} bytes`);
  if (ms !== null) parts.push(`${Math.round(ms) / 1000}s`);
  return parts.join(', ');
}
