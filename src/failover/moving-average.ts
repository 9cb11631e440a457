// An exponentially weighted moving average of one host's transaction times, for
// least_response_time and SHOW HOSTS: one multiply-add per sample and no history kept.

/**
 * Each sample counts for a tenth: after ~7 transactions at a new speed the average is halfway
 * there, so a host that slows down loses traffic quickly without one slow transaction deciding.
 */
const DEFAULT_WEIGHT = 0.1;

export class MovingAverage {
  /** 0 until the first sample, which is taken as it is */
  value = 0;
  samples = 0;

  constructor(private readonly weight = DEFAULT_WEIGHT) {
    if (!(weight > 0 && weight <= 1)) throw new RangeError(`a moving-average weight is in (0, 1], not ${weight}`);
  }

  add(sample: number): void {
    this.value = this.samples === 0 ? sample : this.value + this.weight * (sample - this.value);
    this.samples++;
  }

  reset(): void {
    this.value = 0;
    this.samples = 0;
  }
}
