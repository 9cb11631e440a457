// The verdict cache keeps what was used lately within its entry and character budgets.
import { describe, expect, it } from 'vitest';
import { VerdictCache } from './cache.js';

describe('VerdictCache', () => {
  it('never holds more than its entry budget', () => {
    const cache = new VerdictCache<number>(10, 100, 1_000_000);
    for (let i = 0; i < 1000; i++) cache.set(`q${i}`, i);
    expect(cache.size).toBeLessThanOrEqual(10);
    expect(cache.get('q999')).toBe(999);
    expect(cache.get('q0')).toBeUndefined();
  });

  it('never holds more than its character budget', () => {
    const cache = new VerdictCache<number>(1000, 100, 1000);
    for (let i = 0; i < 100; i++) cache.set(`${i}`.padEnd(100, 'x'), i);
    expect(cache.size).toBeLessThanOrEqual(10);
  });

  it('keeps an entry that is used while others come and go', () => {
    const cache = new VerdictCache<number>(10, 100, 1_000_000);
    cache.set('hot', 1);
    for (let i = 0; i < 1000; i++) {
      cache.set(`q${i}`, i);
      expect(cache.get('hot')).toBe(1);
    }
  });

  it('does not keep texts over its length limit', () => {
    const cache = new VerdictCache<number>(10, 5, 1000);
    cache.set('123456', 1);
    expect(cache.get('123456')).toBeUndefined();
    cache.set('12345', 1);
    expect(cache.get('12345')).toBe(1);
  });

  it('holds a text once when it is set again from the old generation', () => {
    const cache = new VerdictCache<number>(4, 100, 1000);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.set('a', 4);
    expect(cache.size).toBe(3);
    expect(cache.get('a')).toBe(4);
  });

  it('forgets everything on clear', () => {
    const cache = new VerdictCache<number>(4, 100, 1000);
    cache.set('a', 1);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });
});
