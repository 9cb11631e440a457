// Parsing and printing of single values (integers, times, booleans, lists, enums) as PgBouncer
// writes them in an ini file and prints them in SHOW CONFIG. Callers add the file:line.

/** thrown by the parsers below; `expected` completes "invalid value "x" (expected ...)" */
export class InvalidValue extends Error {
  constructor(readonly expected: string) {
    super(`expected ${expected}`);
    this.name = 'InvalidValue';
  }
}

/**
 * A non-negative integer in decimal, or hex with 0x. PgBouncer uses strtol, which also reads
 * leading-zero octal; we read "0777" as decimal 777 because none of our integer settings is a mode.
 */
export function parseInteger(raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw.trim();
  let value: number;
  if (/^\+?\d+$/.test(text)) value = Number(text);
  else if (/^0x[0-9a-f]+$/i.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^-\d+$/.test(text)) value = Number(text);
  else throw new InvalidValue(rangeText(min, max));
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidValue(rangeText(min, max));
  return value;
}

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
  return `an integer from ${min} to ${max}`;
}

const TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, sec: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in milliseconds. PgBouncer reads plain seconds as a float ("0.5", "30", "1e3"); we also
 * accept a unit suffix (us, ms, s, min, h, d) because "500ms" is clearer than "0.5". The result keeps
 * microsecond precision, like PgBouncer's usec_t, so 0.0001 s survives as 0.1 ms.
 */
export function parseTime(raw: string): number {
  const match = /^\+?((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const expected = 'a duration in seconds such as 30 or 0.5, or with a unit: 500ms, 30s, 5min, 1h';
  if (!match) throw new InvalidValue(expected);
  const unit = match[2]!.toLowerCase();
  const scale = unit === '' ? 1000 : TIME_UNITS_MS[unit];
  if (scale === undefined) throw new InvalidValue(expected);
  const ms = Math.round(Number(match[1]) * scale * 1000) / 1000;
  if (!Number.isFinite(ms)) throw new InvalidValue(expected);
  return ms;
}

const TRUE_WORDS = new Set(['1', 'on', 'true', 'yes']);
const FALSE_WORDS = new Set(['0', 'off', 'false', 'no']);

/** PgBouncer's booleans are integers (0/1); the usual words are accepted too */
export function parseBoolean(raw: string): boolean {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new InvalidValue('0 or 1 (also on/off, true/false, yes/no)');
}

/** a comma-separated list; items are trimmed and empty items dropped, so "" is the empty list */
export function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** one of a fixed set of words; PgBouncer compares case-insensitively (cf_set_lookup) */
export function parseEnum<T extends string>(raw: string, values: readonly T[]): T {
  const word = raw.trim().toLowerCase();
  const found = values.find((value) => value === word);
  if (found === undefined) throw new InvalidValue(joinAlternatives(values));
  return found;
}

/** "a, b or c" */
export function joinAlternatives(values: readonly string[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

/** a duration in ms printed as PgBouncer's SHOW CONFIG does: seconds through printf("%g") */
export function formatSeconds(ms: number): string {
  return formatG(ms / 1000);
}

/** C's printf("%g"): six significant digits, trailing zeros dropped, exponent outside 1e-4..1e6 */
export function formatG(value: number): string {
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return String(value);
  const [mantissa, exponentText] = value.toExponential(5).split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${stripZeros(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return stripZeros(value.toFixed(5 - exponent));
}

function stripZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}
