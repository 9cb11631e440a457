// PgBouncer's connection-string syntax for [databases] and [users] values (loader.c cstr_get_pair):
// whitespace-separated key=value pairs, a value may be 'single quoted' with '' for a quote, and an
// empty value is an error. It looks like libpq's but is not: no double quotes, no backslashes.
import { configError, type Source } from './errors.js';
import { InvalidValue } from './values.js';

export interface ConnStringPair {
  key: string;
  value: string;
}

export class ConnStringSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnStringSyntaxError';
  }
}

const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\t';

/** split a connection string into its pairs, in order; throws ConnStringSyntaxError */
export function parseConnString(text: string): ConnStringPair[] {
  const pairs: ConnStringPair[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (isSpace(text[i])) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= text.length) return pairs;

    const keyStart = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i])) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (text[i] !== '=') throw new ConnStringSyntaxError(`expected key=value, got "${key}" with no "="`);
    if (key === '') throw new ConnStringSyntaxError('"=" with no key before it');
    i++;
    skipSpace();

    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new ConnStringSyntaxError(`unterminated quoted value for "${key}"`);
        if (text[i] === "'") {
          if (text[i + 1] !== "'") break;
          i++;
        }
        value += text[i];
        i++;
      }
      i++;
      if (i < text.length && !isSpace(text[i])) {
        throw new ConnStringSyntaxError(`expected a space after the quoted value of "${key}"`);
      }
    } else {
      const valueStart = i;
      while (i < text.length && !isSpace(text[i])) i++;
      value = text.slice(valueStart, i);
    }
    if (value === '') throw new ConnStringSyntaxError(`empty value for "${key}"`);
    pairs.push({ key, value });
  }
}

/** quote a value for a connection string when it needs it (for printing configs back) */
export function quoteConnStringValue(value: string): string {
  return /^[^\s']+$/.test(value) ? value : `'${value.replace(/'/g, "''")}'`;
}

/**
 * hand the pairs of a [databases] or [users] entry to `apply`, in order: a syntax error (in `what`:
 * "connection string", "user settings"), or an InvalidValue that `apply` throws, becomes a
 * ConfigError naming the entry and the parameter
 */
export function applyEntryPairs(
  text: string,
  what: string,
  source: Source,
  name: string,
  subject: string,
  apply: (key: string, value: string) => void,
): void {
  let pairs: ConnStringPair[];
  try {
    pairs = parseConnString(text);
  } catch (err) {
    if (err instanceof ConnStringSyntaxError) throw configError(source, name, `${subject}: syntax error in ${what}: ${err.message}`);
    throw err;
  }
  for (const { key, value } of pairs) {
    try {
      apply(key, value);
    } catch (err) {
      if (err instanceof InvalidValue) {
        throw configError(source, name, `${subject}: parameter "${key}": invalid value "${value}" (expected ${err.expected})`);
      }
      throw err;
    }
  }
}
