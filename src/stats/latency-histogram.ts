// A fixed-bucket latency histogram in microseconds: recording is one comparison loop and an
// increment, so it can sit on the transaction path; quantiles and Prometheus buckets are read
// from the counts at scrape or SHOW time.

/** upper bounds in microseconds, roughly ×2.5 apart from 50 µs to 60 s; the last bucket is +Inf */
export const LATENCY_BUCKETS_US: readonly number[] = [
  50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
  5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

export class LatencyHistogram {
  /** counts[i] is the number of samples ≤ LATENCY_BUCKETS_US[i] and above the bucket before; the last is +Inf */
  readonly counts = new Float64Array(LATENCY_BUCKETS_US.length + 1);
  count = 0;
  /** microseconds */
  sum = 0;

  record(microseconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_US.length && microseconds > LATENCY_BUCKETS_US[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += microseconds;
  }

  /**
   * The q-quantile (0 < q ≤ 1) in microseconds, interpolated inside its bucket as Prometheus'
   * histogram_quantile does; 0 without samples, the top bound for samples beyond it.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i]!;
      if (seen + inBucket >= rank && inBucket > 0) {
        if (i === LATENCY_BUCKETS_US.length) return LATENCY_BUCKETS_US[i - 1]!;
        const lower = i === 0 ? 0 : LATENCY_BUCKETS_US[i - 1]!;
        const upper = LATENCY_BUCKETS_US[i]!;
        return lower + ((upper - lower) * (rank - seen)) / inBucket;
      }
      seen += inBucket;
    }
    return LATENCY_BUCKETS_US[LATENCY_BUCKETS_US.length - 1]!;
  }
}
