// An exponentially weighted moving average of one host's transaction times, for
// least_response_time and SHOW HOSTS: a few operations per sample, no history kept, and what it
// knows fades while no sample comes.

/**
 * Each sample counts for a tenth: after ~7 transactions at a new speed the average is halfway
 * there, so a host that slows down loses traffic quickly without one slow transaction deciding.
 */
const DEFAULT_WEIGHT = 0.1;

/**
 * What the average knows fades with time since its last sample, halving every this many ms. A
 * host that least_response_time stopped choosing gets no sample that could lower its average, so
 * without this one slow transaction (a 3 s query among 1 ms ones) kept it starved for minutes;
 * now it looks untried again within seconds and gets a transaction, whose time then counts the
 * more the older the average was. Under load each host gets many samples a second, and the fading
 * changes nothing.
 */
const DEFAULT_HALF_LIFE_MS = 500;

export class MovingAverage {
  /** as of the last sample; 0 until the first, which is taken as it is */
  value = 0;
  samples = 0;
  /** when the last sample came (ms) */
  private lastAt = 0;

  constructor(
    private readonly weight = DEFAULT_WEIGHT,
    private readonly halfLifeMs = DEFAULT_HALF_LIFE_MS,
  ) {
    if (!(weight > 0 && weight <= 1)) throw new RangeError(`a moving-average weight is in (0, 1], not ${weight}`);
  }

  /** a sample taken at `now` (ms; by default no time has passed since the last) */
  add(sample: number, now = this.lastAt): void {
    // the old average keeps (1 - weight) of its say, less as it ages
    const keep = this.samples === 0 ? 0 : (1 - this.weight) * this.fading(now);
    this.value = sample + keep * (this.value - sample);
    this.lastAt = now;
    this.samples++;
  }

  /** the average as balancing sees it at `now`: fading toward 0 (untried) while no sample comes */
  at(now: number): number {
    return this.value * this.fading(now);
  }

  reset(): void {
    this.value = 0;
    this.samples = 0;
  }

  private fading(now: number): number {
    const gap = now - this.lastAt;
    return gap <= 0 ? 1 : 2 ** (-gap / this.halfLifeMs);
  }
}
