// The moving average starts at its first sample and moves a tenth of the way per sample; what it
// knows fades while no sample comes, so a host balancing stopped choosing gets tried again.
import { describe, expect, it } from 'vitest';
import { MovingAverage } from './moving-average.js';

describe('MovingAverage', () => {
  it('takes the first sample as it is, then moves a tenth of the way toward each new one', () => {
    const avg = new MovingAverage();
    expect(avg.value).toBe(0);
    avg.add(10);
    expect(avg.value).toBe(10);
    avg.add(20);
    expect(avg.value).toBeCloseTo(11);
    expect(avg.samples).toBe(2);
  });

  it('is halfway to a new level after 7 samples, and within 1 % of it after 50', () => {
    const avg = new MovingAverage();
    avg.add(1);
    let n = 0;
    while (avg.value < 2) {
      avg.add(3);
      n++;
    }
    expect(n).toBe(7);
    for (let i = 0; i < 43; i++) avg.add(3);
    expect(avg.value).toBeGreaterThan(2.97);
  });

  it('refuses a weight outside (0, 1], and forgets on reset', () => {
    expect(() => new MovingAverage(0)).toThrow(RangeError);
    expect(() => new MovingAverage(1.5)).toThrow(RangeError);
    const avg = new MovingAverage(1);
    avg.add(5);
    avg.add(7);
    expect(avg.value).toBe(7);
    avg.reset();
    expect([avg.value, avg.samples]).toEqual([0, 0]);
  });

  it('fades toward untried (0) while no sample comes, halving every half-life', () => {
    const avg = new MovingAverage(0.1, 500);
    avg.add(200, 1000);
    expect(avg.at(1000)).toBe(200);
    expect(avg.at(1500)).toBeCloseTo(100);
    expect(avg.at(3500)).toBeCloseTo(200 / 32);
    // the stored value (SHOW HOSTS) stays what the samples said
    expect(avg.value).toBe(200);
  });

  it('lets a sample after a long gap count nearly alone: one slow transaction does not starve a host for long', () => {
    const avg = new MovingAverage(0.1, 500);
    for (let t = 0; t < 100; t++) avg.add(1, t);
    avg.add(3000, 100); // one 3 s query
    expect(avg.value).toBeGreaterThan(300);
    // five half-lives later the host is tried again, and its 1 ms answer almost replaces the outlier
    avg.add(1, 2600);
    expect(avg.value).toBeLessThan(10);
    // without a gap, the usual tenth
    const steady = new MovingAverage(0.1, 500);
    steady.add(10, 0);
    steady.add(20, 0);
    expect(steady.value).toBeCloseTo(11);
  });
});
