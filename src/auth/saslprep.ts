// SASLprep (RFC 4013) of a password before SCRAM hashes it, with PostgreSQL's fallback: a password
// that SASLprep rejects is used unchanged, so both sides still derive the same key.
// @see https://www.rfc-editor.org/rfc/rfc4013 and PostgreSQL src/common/saslprep.c

/** inclusive [first, last] code point ranges from the tables of RFC 3454 */
type Ranges = readonly (readonly [number, number])[];

/** C.1.2: non-ASCII spaces, mapped to U+0020 */
const NON_ASCII_SPACE: Ranges = [
  [0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];

/** B.1: commonly mapped to nothing */
const MAPPED_TO_NOTHING: Ranges = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];

/** SASLprep's prohibited output: C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8 and C.9 */
const PROHIBITED: Ranges = [
  ...NON_ASCII_SPACE,
  [0x0000, 0x001f], [0x007f, 0x007f], /* C.2.1 */
  [0x0080, 0x009f], [0x06dd, 0x06dd], [0x070f, 0x070f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029],
  [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a], /* C.2.2 */
  [0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd], /* C.3 */
  [0xfdd0, 0xfdef], [0xfffe, 0xffff], /* C.4, and U+nFFFE..U+nFFFF in every plane below */
  [0xd800, 0xdfff], /* C.5 */
  [0xfff9, 0xfffd], /* C.6 */
  [0x2ff0, 0x2ffb], /* C.7 */
  [0x0340, 0x0341], [0x200e, 0x200f], [0x202a, 0x202e], [0x206a, 0x206f], /* C.8 */
  [0xe0001, 0xe0001], [0xe0020, 0xe007f], /* C.9 */
];

/** D.1: characters with bidirectional property R or AL */
const RAND_AL: Ranges = [
  [0x05be, 0x05be], [0x05c0, 0x05c0], [0x05c3, 0x05c3], [0x05d0, 0x05ea], [0x05f0, 0x05f4], [0x061b, 0x061b],
  [0x061f, 0x061f], [0x0621, 0x063a], [0x0640, 0x064a], [0x066d, 0x066f], [0x0671, 0x06d5], [0x06dd, 0x06dd],
  [0x06e5, 0x06e6], [0x06fa, 0x06fe], [0x0700, 0x070d], [0x0710, 0x0710], [0x0712, 0x072c], [0x0780, 0x07a5],
  [0x07b1, 0x07b1], [0x200f, 0x200f], [0xfb1d, 0xfb1d], [0xfb1f, 0xfb28], [0xfb2a, 0xfb36], [0xfb38, 0xfb3c],
  [0xfb3e, 0xfb3e], [0xfb40, 0xfb41], [0xfb43, 0xfb44], [0xfb46, 0xfbb1], [0xfbd3, 0xfd3d], [0xfd50, 0xfd8f],
  [0xfd92, 0xfdc7], [0xfdf0, 0xfdfc], [0xfe70, 0xfe74], [0xfe76, 0xfefc],
];

const ASCII = /^[\x00-\x7f]*$/;
const UNASSIGNED = /^\p{Cn}$/u;
const LETTER = /^\p{L}$/u;

function inRanges(cp: number, ranges: Ranges): boolean {
  for (const [first, last] of ranges) if (cp >= first && cp <= last) return true;
  return false;
}

function isProhibited(cp: number): boolean {
  const inPlane = cp & 0xffff;
  return inRanges(cp, PROHIBITED) || inPlane === 0xfffe || inPlane === 0xffff || UNASSIGNED.test(String.fromCodePoint(cp));
}

/** RFC 3454 D.2 (bidi L) approximated as "a letter that is not R/AL"; see saslprep() */
function isLeftToRight(cp: number): boolean {
  return !inRanges(cp, RAND_AL) && LETTER.test(String.fromCodePoint(cp));
}

/**
 * The string SCRAM hashes for `password`, as PostgreSQL computes it (pg_saslprep plus the caller's
 * fallback). ASCII passes through unchanged, exactly as in PostgreSQL, control characters included.
 * Otherwise: map (C.1.2 → space, B.1 → nothing), check the mapped string (PostgreSQL checks it
 * before normalizing, so we do too), then NFKC. A password that fails a check, or maps to
 * nothing, is used as given.
 *
 * Limitations, which only matter for non-ASCII passwords that a check should reject and that
 * mapping or NFKC would change: "unassigned" is judged by the running ICU's Unicode rather than
 * Unicode 3.2 (RFC 3454 A.1), and bidi category L (D.2) is approximated by "letter not in D.1".
 */
export function saslprep(password: string): string {
  if (ASCII.test(password)) return password;
  const mapped: number[] = [];
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(cp, NON_ASCII_SPACE)) mapped.push(0x20);
    else if (!inRanges(cp, MAPPED_TO_NOTHING)) mapped.push(cp);
  }
  if (mapped.length === 0 || mapped.some(isProhibited)) return password;
  const isRandAL = (cp: number) => inRanges(cp, RAND_AL);
  if (mapped.some(isRandAL)) {
    if (mapped.some(isLeftToRight) || !isRandAL(mapped[0]!) || !isRandAL(mapped[mapped.length - 1]!)) return password;
  }
  return mapped.map((cp) => String.fromCodePoint(cp)).join('').normalize('NFKC');
}
