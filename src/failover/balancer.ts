// Which of a database's hosts the next transaction goes to, by load_balance. A pick reads the
// hosts' own fields (usable, weight, active, average transaction time), returns an index and
// allocates nothing; the random source is injected so tests can make it repeatable.
import type { LoadBalance } from '../config/types.js';

/** what the balancer reads of a host; the pool's per-host object can be passed as it is */
export interface BalancedHost {
  /** may take a new transaction: not banned, not being probed, not lagging */
  readonly usable: boolean;
  /** weight= (weighted_round_robin only); 0 takes transactions only when no weighted host can */
  readonly weight: number;
  /** server connections lent to clients now */
  readonly active: number;
  /** moving average of transaction time (ms); 0 while the host has no sample */
  readonly avgTransactionMs: number;
}

/** a number in [0, 1), as Math.random */
export type Random = () => number;

/**
 * least_response_time gives every EXPLORE_EVERY-th pick to the hosts in turn. A host's average
 * moves only when it gets a transaction: one that looks slow (a slow query, a stall that is over)
 * would otherwise get none and never look fast again. This keeps a fresh sample coming from each
 * host at a small cost: a really slow one gets at most 1/32 of the picks more than it earns.
 */
const EXPLORE_EVERY = 32;

export class Balancer {
  /** round robin, and the tie-break of the least-* modes: where the next scan starts */
  private cursor = 0;
  /** least_response_time picks so far, for exploration */
  private picks = 0;
  /** smooth weighted round robin: each host's running credit, by index */
  private credit = new Float64Array(0);

  constructor(
    public mode: LoadBalance,
    private readonly random: Random = Math.random,
  ) {}

  /**
   * The index of the host for the next transaction, or -1 when none can take it. `eligible`
   * narrows the choice further for this one pick (read_your_writes: replicas that have replayed
   * the client's last commit); make it once per client, not per call.
   */
  pick<T extends BalancedHost>(hosts: readonly T[], eligible?: (host: T) => boolean): number {
    switch (this.mode) {
      case 'first':
        return this.first(hosts, eligible);
      case 'round_robin':
        return this.roundRobin(hosts, eligible);
      case 'weighted_round_robin':
        return this.weighted(hosts, eligible);
      case 'least_connections':
        return this.least(hosts, eligible, false);
      case 'least_response_time':
        return ++this.picks % EXPLORE_EVERY === 0 ? this.roundRobin(hosts, eligible) : this.least(hosts, eligible, true);
      case 'power_of_two':
        return this.powerOfTwo(hosts, eligible);
      default:
        return assertNever(this.mode);
    }
  }

  /** the host list changed (a member joined or left): weighted credit was kept by index */
  reset(): void {
    this.credit.fill(0);
    this.cursor = 0;
  }

  private first<T extends BalancedHost>(hosts: readonly T[], eligible?: (host: T) => boolean): number {
    for (let i = 0; i < hosts.length; i++) if (ok(hosts[i]!, eligible)) return i;
    return -1;
  }

  private roundRobin<T extends BalancedHost>(hosts: readonly T[], eligible?: (host: T) => boolean): number {
    const n = hosts.length;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      if (ok(hosts[i]!, eligible)) {
        this.cursor = (i + 1) % n;
        return i;
      }
    }
    return -1;
  }

  /**
   * Smooth weighted round robin (as nginx does it): every pick, each usable host earns its weight
   * in credit, the richest is chosen and pays the total. Shares are exact over each cycle of
   * total-weight picks, and a heavy host's turns are spread through the cycle, not bunched.
   */
  private weighted<T extends BalancedHost>(hosts: readonly T[], eligible?: (host: T) => boolean): number {
    const n = hosts.length;
    if (this.credit.length !== n) this.credit = new Float64Array(n);
    let total = 0;
    let best = -1;
    for (let i = 0; i < n; i++) {
      const host = hosts[i]!;
      if (host.weight <= 0 || !ok(host, eligible)) continue;
      this.credit[i]! += host.weight;
      total += host.weight;
      if (best === -1 || this.credit[i]! > this.credit[best]!) best = i;
    }
    if (best === -1) return this.roundRobin(hosts, eligible);
    this.credit[best]! -= total;
    return best;
  }

  /**
   * Fewest active connections, or (byTime) the lowest (active + 1) × average transaction time: the
   * time a new transaction can expect to queue behind the ones running. A host with no sample yet
   * is taken to be as fast as the fastest known, so it gets tried. Ties go round robin.
   */
  private least<T extends BalancedHost>(hosts: readonly T[], eligible: ((host: T) => boolean) | undefined, byTime: boolean): number {
    const n = hosts.length;
    let unknownAvg = 1;
    if (byTime) {
      let fastest = Infinity;
      for (let i = 0; i < n; i++) {
        const avg = hosts[i]!.avgTransactionMs;
        if (avg > 0 && avg < fastest && ok(hosts[i]!, eligible)) fastest = avg;
      }
      if (fastest !== Infinity) unknownAvg = fastest;
    }
    let best = -1;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      const host = hosts[i]!;
      if (!ok(host, eligible)) continue;
      const score = byTime ? (host.active + 1) * (host.avgTransactionMs > 0 ? host.avgTransactionMs : unknownAvg) : host.active;
      if (score < bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best !== -1) this.cursor = (best + 1) % n;
    return best;
  }

  /**
   * Two different usable hosts at random; the one with fewer active connections wins (then the
   * faster average; then the first drawn). Cheaper than scanning for the least loaded and, with
   * several poolers or stale counts, less prone to sending everyone to the same host.
   */
  private powerOfTwo<T extends BalancedHost>(hosts: readonly T[], eligible?: (host: T) => boolean): number {
    let usable = 0;
    for (let i = 0; i < hosts.length; i++) if (ok(hosts[i]!, eligible)) usable++;
    if (usable <= 1) return this.first(hosts, eligible);
    const a = Math.min(usable - 1, Math.floor(this.random() * usable));
    let b = Math.min(usable - 2, Math.floor(this.random() * (usable - 1)));
    if (b >= a) b++;
    const x = nthUsable(hosts, a, eligible);
    const y = nthUsable(hosts, b, eligible);
    const hx = hosts[x]!;
    const hy = hosts[y]!;
    if (hx.active !== hy.active) return hx.active < hy.active ? x : y;
    return hy.avgTransactionMs < hx.avgTransactionMs ? y : x;
  }
}

function ok<T extends BalancedHost>(host: T, eligible: ((host: T) => boolean) | undefined): boolean {
  return host.usable && (eligible === undefined || eligible(host));
}

/** the index of the nth (from 0) host that can take a transaction */
function nthUsable<T extends BalancedHost>(hosts: readonly T[], nth: number, eligible?: (host: T) => boolean): number {
  let seen = 0;
  for (let i = 0; i < hosts.length; i++) {
    if (!ok(hosts[i]!, eligible)) continue;
    if (seen === nth) return i;
    seen++;
  }
  return -1;
}

function assertNever(value: never): never {
  throw new Error(`unexpected load_balance ${String(value)}`);
}
