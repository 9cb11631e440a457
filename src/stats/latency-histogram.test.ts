// The latency histogram: bucket placement and interpolated quantiles.
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';

describe('LatencyHistogram', () => {
  it('is 0 with no samples', () => {
    expect(new LatencyHistogram().quantile(0.99)).toBe(0);
  });

  it('puts a sample on a bucket bound into that bucket, and interpolates inside it', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 100; i++) h.record(1_000); // bucket (500, 1000]
    expect(h.counts[4]).toBe(100);
    expect(h.quantile(0.5)).toBe(750);
    expect(h.quantile(1)).toBe(1_000);
  });

  it('separates a slow tail: p50 stays low while p99 lands in the slow bucket', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 98; i++) h.record(80); // (50, 100]
    for (let i = 0; i < 2; i++) h.record(400_000); // (250 ms, 500 ms]
    expect(h.quantile(0.5)).toBeLessThanOrEqual(100);
    expect(h.quantile(0.99)).toBeGreaterThan(250_000);
    expect(h.count).toBe(100);
    expect(h.sum).toBe(98 * 80 + 2 * 400_000);
  });

  it('reports the top bound for samples beyond it', () => {
    const h = new LatencyHistogram();
    h.record(120_000_000);
    expect(h.quantile(0.5)).toBe(60_000_000);
  });
});
