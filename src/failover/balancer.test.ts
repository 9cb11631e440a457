// Each load_balance mode over 10 000 picks against its definition: fixed loads where the answer is
// exact, and a small simulation (concurrent clients, hosts of different speeds) where it is a share.
import { describe, expect, it } from 'vitest';
import type { LoadBalance } from '../config/types.js';
import { seededRandom } from '../testing/seeded-random.js';
import { Balancer, type BalancedHost } from './balancer.js';
import { MovingAverage } from './moving-average.js';

const PICKS = 10_000;

interface Host extends BalancedHost {
  usable: boolean;
  weight: number;
  active: number;
  avgTransactionMs: number;
}

const host = (fields: Partial<Host> = {}): Host => ({ usable: true, weight: 1, active: 0, avgTransactionMs: 0, ...fields });

/** how many of `picks` picks went to each host, the loads left as they are */
function counts(mode: LoadBalance, hosts: Host[], picks = PICKS, eligible?: (h: Host) => boolean): number[] {
  const balancer = new Balancer(mode, seededRandom(42));
  const tally = hosts.map(() => 0);
  for (let i = 0; i < picks; i++) tally[balancer.pick(hosts, eligible)]!++;
  return tally;
}

/**
 * `clients` clients run back-to-back transactions; a transaction on host i takes serviceMs[i].
 * Picks see the live active counts and moving averages. Returns each host's share of the picks.
 */
function simulate(mode: LoadBalance, serviceMs: number[], clients = 6): number[] {
  const balancer = new Balancer(mode, seededRandom(7));
  const hosts = serviceMs.map(() => host());
  const averages = serviceMs.map(() => new MovingAverage());
  const tally = serviceMs.map(() => 0);
  const running: { host: number; end: number }[] = [];
  let now = 0;
  for (let picks = 0; picks < PICKS; ) {
    while (running.length < clients && picks < PICKS) {
      const i = balancer.pick(hosts);
      hosts[i]!.active++;
      tally[i]!++;
      picks++;
      running.push({ host: i, end: now + serviceMs[i]! });
    }
    running.sort((a, b) => a.end - b.end);
    const done = running.shift()!;
    now = done.end;
    hosts[done.host]!.active--;
    averages[done.host]!.add(serviceMs[done.host]!);
    hosts[done.host]!.avgTransactionMs = averages[done.host]!.value;
  }
  return tally.map((n) => n / PICKS);
}

describe('first', () => {
  it('sends everything to the first usable host, as a single host does today', () => {
    expect(counts('first', [host(), host(), host()])).toEqual([PICKS, 0, 0]);
    expect(counts('first', [host({ usable: false }), host(), host()])).toEqual([0, PICKS, 0]);
  });
});

describe('round_robin', () => {
  it('spreads evenly, skipping a host that is not usable', () => {
    expect(counts('round_robin', [host(), host(), host()])).toEqual([3334, 3333, 3333]);
    expect(counts('round_robin', [host(), host({ usable: false }), host()])).toEqual([5000, 0, 5000]);
  });

  it('visits the hosts in turn, not merely in equal numbers', () => {
    const balancer = new Balancer('round_robin');
    const hosts = [host(), host(), host()];
    expect(Array.from({ length: 6 }, () => balancer.pick(hosts))).toEqual([0, 1, 2, 0, 1, 2]);
  });
});

describe('weighted_round_robin', () => {
  it('gives each host its weight\'s share exactly', () => {
    expect(counts('weighted_round_robin', [host({ weight: 5 }), host({ weight: 3 }), host({ weight: 2 })])).toEqual([5000, 3000, 2000]);
  });

  it('shares among the usable hosts only, and a weight of 0 gets nothing while others can take it', () => {
    expect(counts('weighted_round_robin', [host({ weight: 5, usable: false }), host({ weight: 3 }), host({ weight: 2 })])).toEqual([0, 6000, 4000]);
    expect(counts('weighted_round_robin', [host({ weight: 0 }), host({ weight: 1 })])).toEqual([0, PICKS]);
    expect(counts('weighted_round_robin', [host({ weight: 0 }), host({ weight: 1, usable: false })])).toEqual([PICKS, 0]);
  });

  it('spreads a heavy host\'s turns through each cycle instead of bunching them', () => {
    const balancer = new Balancer('weighted_round_robin');
    const hosts = [host({ weight: 5 }), host({ weight: 1 }), host({ weight: 1 })];
    const cycle = Array.from({ length: 7 }, () => balancer.pick(hosts));
    expect(cycle).toEqual([0, 0, 1, 0, 2, 0, 0]);
    expect(Array.from({ length: 7 }, () => balancer.pick(hosts))).toEqual(cycle);
  });
});

describe('least_connections', () => {
  it('picks the host with the fewest active connections, and spreads ties evenly', () => {
    expect(counts('least_connections', [host({ active: 4 }), host({ active: 1 }), host({ active: 3 })])).toEqual([0, PICKS, 0]);
    expect(counts('least_connections', [host({ active: 2 }), host({ active: 2 }), host({ active: 2 })])).toEqual([3334, 3333, 3333]);
    expect(counts('least_connections', [host({ active: 4 }), host({ active: 1, usable: false }), host({ active: 3 })])).toEqual([0, 0, PICKS]);
  });

  it('sends fewer transactions to a host that holds its connections longer', () => {
    // equal connections on each host, so each host's rate is 1 / its time: shares 4/9, 4/9, 1/9
    const shares = simulate('least_connections', [1, 1, 4]);
    [4 / 9, 4 / 9, 1 / 9].forEach((expected, i) => expect(shares[i]).toBeCloseTo(expected, 2));
    // round robin, for comparison, ignores the difference
    expect(simulate('round_robin', [1, 1, 4])[2]).toBeCloseTo(1 / 3, 2);
  });
});

describe('least_response_time', () => {
  it('prefers the faster host at equal load, and weighs load against speed; the slower gets only the exploring picks', () => {
    // every 32nd pick goes round the hosts, so a host that looks slow still gets a fresh sample now and then
    const explored = Math.floor(PICKS / 32);
    expect(counts('least_response_time', [host({ active: 1, avgTransactionMs: 6 }), host({ active: 1, avgTransactionMs: 2 })])).toEqual([explored, PICKS - explored]);
    // 1 × 10 ms queued on the idle host against 3 × 2 ms on the busy one
    expect(counts('least_response_time', [host({ active: 0, avgTransactionMs: 10 }), host({ active: 2, avgTransactionMs: 2 })])).toEqual([explored, PICKS - explored]);
  });

  it('tries a host with no sample yet as if it were the fastest known', () => {
    // not as free (0 ms would always win) and not as a fixed guess: 1 × 5 ms against 2 × 5 ms
    expect(counts('least_response_time', [host({ active: 0, avgTransactionMs: 5 }), host({ active: 1 })], 1)).toEqual([1, 0]);
    expect(counts('least_response_time', [host({ active: 2, avgTransactionMs: 5 }), host({ active: 1 })], 1)).toEqual([0, 1]);
  });

  it('sends most transactions to the faster host, more so than least_connections', () => {
    // 6 clients settle where (running + 1) × time is equal: 5 on the 1 ms host, 1 on the 3 ms one,
    // so 5 / 1 against 1 / 3 transactions per ms, 15/16 of them on the fast host, less what the
    // exploring picks (1/32) give the slow one
    const fast = simulate('least_response_time', [1, 3])[0]!;
    expect(fast).toBeLessThanOrEqual(15 / 16);
    expect(fast).toBeGreaterThan(15 / 16 - 1 / 32 - 0.01);
    // least_connections keeps 3 on each: 3 / 1 against 3 / 3, so 3/4
    expect(simulate('least_connections', [1, 3])[0]).toBeCloseTo(3 / 4, 2);
  });
});

describe('power_of_two', () => {
  it('lets the less loaded of two random hosts win: with loads 1, 2, 3, 4 the shares are 1/2, 1/3, 1/6, 0', () => {
    const shares = counts('power_of_two', [host({ active: 1 }), host({ active: 2 }), host({ active: 3 }), host({ active: 4 })]).map((n) => n / PICKS);
    // a host wins when drawn with any of the more loaded ones: 3, 2, 1 and 0 of the 6 pairs
    [1 / 2, 1 / 3, 1 / 6, 0].forEach((expected, i) => expect(Math.abs(shares[i]! - expected), `host ${i}`).toBeLessThan(0.02));
  });

  it('spreads evenly at equal loads, never draws an unusable host, and takes the only usable one', () => {
    const even = counts('power_of_two', [host(), host(), host(), host()]);
    for (const n of even) expect(Math.abs(n - PICKS / 4)).toBeLessThan(250);
    expect(counts('power_of_two', [host(), host({ usable: false }), host()])[1]).toBe(0);
    expect(counts('power_of_two', [host({ usable: false }), host({ active: 9 }), host({ usable: false })])).toEqual([0, PICKS, 0]);
  });

  it('breaks a tie in load by the faster average', () => {
    expect(counts('power_of_two', [host({ avgTransactionMs: 5 }), host({ avgTransactionMs: 1 })])).toEqual([0, PICKS]);
  });
});

describe('every mode', () => {
  const modes: LoadBalance[] = ['first', 'round_robin', 'weighted_round_robin', 'least_connections', 'least_response_time', 'power_of_two'];

  it('answers -1 when no host can take a transaction', () => {
    for (const mode of modes) {
      expect(new Balancer(mode).pick([host({ usable: false }), host({ usable: false })]), mode).toBe(-1);
      expect(new Balancer(mode).pick([]), mode).toBe(-1);
    }
  });

  it('honours a per-pick filter (read_your_writes) on top of usable', () => {
    const hosts = [host({ weight: 3 }), host({ weight: 1 }), host({ weight: 1 })];
    const notFirst = (h: Host) => h !== hosts[0];
    for (const mode of modes) {
      const tally = counts(mode, hosts, 1000, notFirst);
      expect(tally[0], mode).toBe(0);
      expect(tally[1]! + tally[2]!, mode).toBe(1000);
    }
  });
});
