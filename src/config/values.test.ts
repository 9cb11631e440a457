// Value syntax as PgBouncer reads it: integers, times with units, booleans, lists, enums.
import { describe, expect, it } from 'vitest';
import {
  InvalidValue,
  formatG,
  formatSeconds,
  parseBoolean,
  parseEnum,
  parseInteger,
  parseList,
  parseTime,
} from './values.js';

describe('parseTime', () => {
  it('reads plain seconds, as PgBouncer does, into milliseconds', () => {
    expect(parseTime('30')).toBe(30_000);
    expect(parseTime('0')).toBe(0);
    expect(parseTime('0.5')).toBe(500);
    expect(parseTime('.25')).toBe(250);
    expect(parseTime('1e3')).toBe(1_000_000);
    expect(parseTime(' 15 ')).toBe(15_000);
  });

  it('keeps microsecond precision like usec_t', () => {
    expect(parseTime('0.0001')).toBe(0.1);
    expect(parseTime('0.7')).toBe(700);
    expect(parseTime('0.000001')).toBe(0.001);
  });

  it('accepts unit suffixes', () => {
    expect(parseTime('500ms')).toBe(500);
    expect(parseTime('500 ms')).toBe(500);
    expect(parseTime('30s')).toBe(30_000);
    expect(parseTime('5min')).toBe(300_000);
    expect(parseTime('1h')).toBe(3_600_000);
    expect(parseTime('1.5h')).toBe(5_400_000);
    expect(parseTime('250us')).toBe(0.25);
    expect(parseTime('2d')).toBe(172_800_000);
  });

  it('rejects negatives, junk and unknown units', () => {
    for (const bad of ['-1', '', 'abc', '10 seconds', '5m', '1h30min', '1e999', 'inf', '0x10']) {
      expect(() => parseTime(bad), bad).toThrow(InvalidValue);
    }
  });
});

describe('formatSeconds (SHOW CONFIG, printf %g of seconds)', () => {
  it('prints like C %g', () => {
    expect(formatSeconds(3_600_000)).toBe('3600');
    expect(formatSeconds(500)).toBe('0.5');
    expect(formatSeconds(0)).toBe('0');
    expect(formatSeconds(120_000)).toBe('120');
    expect(formatSeconds(0.1)).toBe('0.0001');
    expect(formatSeconds(1_000_000_000)).toBe('1e+06');
    expect(formatG(0.00001)).toBe('1e-05');
    expect(formatG(123456)).toBe('123456');
    expect(formatG(1234567)).toBe('1.23457e+06');
    expect(formatG(2.5)).toBe('2.5');
    expect(formatG(1 / 3)).toBe('0.333333');
  });
});

describe('parseInteger', () => {
  it('reads decimal and hex, and checks bounds', () => {
    expect(parseInteger('42')).toBe(42);
    expect(parseInteger('+7')).toBe(7);
    expect(parseInteger('0x10')).toBe(16);
    expect(parseInteger('65535', 1, 65535)).toBe(65535);
    expect(() => parseInteger('-1')).toThrow('expected a non-negative integer');
    expect(() => parseInteger('0', 1, 65535)).toThrow('expected an integer from 1 to 65535');
    expect(() => parseInteger('0', 1)).toThrow('expected an integer >= 1');
    expect(() => parseInteger('12abc')).toThrow(InvalidValue);
    expect(() => parseInteger('1.5')).toThrow(InvalidValue);
    expect(() => parseInteger('')).toThrow(InvalidValue);
    expect(() => parseInteger('99999999999999999999')).toThrow(InvalidValue);
  });
});

describe('parseBoolean', () => {
  it('accepts 0/1 and the usual words in any case', () => {
    for (const yes of ['1', 'on', 'true', 'yes', 'ON', 'True']) expect(parseBoolean(yes)).toBe(true);
    for (const no of ['0', 'off', 'false', 'no', 'NO']) expect(parseBoolean(no)).toBe(false);
    expect(() => parseBoolean('2')).toThrow('expected 0 or 1');
    expect(() => parseBoolean('')).toThrow(InvalidValue);
  });
});

describe('parseList', () => {
  it('splits on commas, trims, and drops empty items', () => {
    expect(parseList('')).toEqual([]);
    expect(parseList('extra_float_digits')).toEqual(['extra_float_digits']);
    expect(parseList(' a, b ,c,, ')).toEqual(['a', 'b', 'c']);
  });
});

describe('parseEnum', () => {
  it('matches case-insensitively and lists the alternatives on error', () => {
    expect(parseEnum('Transaction', ['session', 'transaction', 'statement'] as const)).toBe('transaction');
    expect(() => parseEnum('sesion', ['session', 'transaction', 'statement'] as const)).toThrow(
      'expected session, transaction or statement',
    );
  });
});
