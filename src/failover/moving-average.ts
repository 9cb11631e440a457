// An exponentially weighted moving average of one host's transaction times, for
// least_response_time and SHOW HOSTS: one multiply-add per sample and no history kept; quicker to
// come down than to go up.

/**
 * A sample above the average counts for a tenth: after ~7 transactions at a slower speed the
 * average is halfway there, so a host that slows down loses traffic quickly without one slow
 * transaction deciding. A sample below it counts for half: a faster answer says the average is
 * stale (it may still carry one slow query, such as a 2 s report among 1 ms lookups), and a host
 * whose average is stale gets few transactions to correct it with (see Balancer's exploration).
 */
const SLOWER_WEIGHT = 0.1;
const FASTER_WEIGHT = 0.5;

export class MovingAverage {
  /** 0 until the first sample, which is taken as it is */
  value = 0;
  samples = 0;

  constructor(
    private readonly slowerWeight = SLOWER_WEIGHT,
    private readonly fasterWeight = FASTER_WEIGHT,
  ) {
    for (const weight of [slowerWeight, fasterWeight]) {
      if (!(weight > 0 && weight <= 1)) throw new RangeError(`a moving-average weight is in (0, 1], not ${weight}`);
    }
  }

  add(sample: number): void {
    const weight = sample < this.value ? this.fasterWeight : this.slowerWeight;
    this.value = this.samples === 0 ? sample : this.value + weight * (sample - this.value);
    this.samples++;
  }

  reset(): void {
    this.value = 0;
    this.samples = 0;
  }
}
