// The moving average starts at its first sample and moves a tenth of the way toward a slower
// sample, half of the way toward a faster one.
import { describe, expect, it } from 'vitest';
import { MovingAverage } from './moving-average.js';

describe('MovingAverage', () => {
  it('takes the first sample as it is, then moves a tenth of the way toward each slower one', () => {
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
    expect(() => new MovingAverage(0.1, 0)).toThrow(RangeError);
    const avg = new MovingAverage(1, 1);
    avg.add(5);
    avg.add(7);
    expect(avg.value).toBe(7);
    avg.reset();
    expect([avg.value, avg.samples]).toEqual([0, 0]);
  });

  it('comes down by half toward a faster sample: one slow query among fast ones is soon forgotten', () => {
    const avg = new MovingAverage();
    for (let i = 0; i < 20; i++) avg.add(1);
    avg.add(2000);
    expect(avg.value).toBeCloseTo(200.9);
    let n = 0;
    while (avg.value > 2) {
      avg.add(1);
      n++;
    }
    expect(n).toBe(8);
  });
});
