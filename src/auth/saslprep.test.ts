// SASLprep of SCRAM passwords (RFC 4013), including PostgreSQL's use-unchanged fallback.
import { describe, expect, it } from 'vitest';
import { saslprep } from './saslprep.js';

describe('saslprep', () => {
  it.each([
    // RFC 4013 §3 examples that succeed
    ['I\u00ADX', 'IX'], // SOFT HYPHEN mapped to nothing
    ['user', 'user'],
    ['USER', 'USER'], // case is kept
    ['\u00AA', 'a'], // NFKC
    ['\u2168', 'IX'], // NFKC
    // C.1.2 non-ASCII space becomes U+0020; B.1 zero-width joiner disappears
    ['pass\u00A0word', 'pass word'],
    ['a\u200Db', 'ab'],
    ['caf\u00E9', 'caf\u00E9'],
  ])('prepares %j as %j', (input, output) => {
    expect(saslprep(input)).toBe(output);
  });

  it.each([
    ['ASCII, control characters included (PostgreSQL skips SASLprep for ASCII)', 'a\u0007b\u007f'],
    ['RFC 4013 example 7: R/AL text not ending in R/AL', '\u0627\u0031'],
    ['R/AL text mixed with left-to-right letters', '\u05D0abc\u05D0'],
    ['a prohibited control character', '\u00AA\u0080'],
    ['a private-use character', '\u00AA\uE000'],
    ['a non-character', '\u00AA\uFFFE'],
    ['an unassigned code point', '\u00AA\u0378'],
    ['a lone surrogate', '\u00AA\uD800'],
    ['a string that maps to nothing', '\u00AD\uFEFF'],
  ])('leaves the password unchanged for %s, as PostgreSQL falls back to', (_what, input) => {
    expect(saslprep(input)).toBe(input);
  });

  it('accepts right-to-left text that begins and ends with R/AL characters', () => {
    expect(saslprep('\u05D0\u05D1')).toBe('\u05D0\u05D1');
  });
});
