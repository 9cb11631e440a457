// The keyword prefilter: one pass over the text with PostgreSQL's lexical rules for comments,
// quoting and dollar quoting. It splits the text into statements and lets only those texts reach the
// parser in which a word that can touch session state (SET, LISTEN, temp, set_config, ...) appears.
//
// It may send too much to the parser, never too little: any doubt (an unterminated quote, a ';'
// inside parentheses, U&"..." identifiers) sends the whole text. It assumes
// standard_conforming_strings = on (PostgreSQL's default since 9.1), as the parser does.
import { READ_ONLY_OPERATORS } from './builtins.js';

/** the text must go to the parser */
export const NEEDS_PARSE = -1;

/** what the prefilter proved of one statement (the kinds array) */
export const PLAIN = 0; // no session effect, no transaction control; not shown read-only
export const READ_ONLY = 1; // the same, and provably read-only

/** word flags */
const START = 1; // a session or transaction command when it opens a statement (SET, BEGIN, DROP, ...)
const ANYWHERE = 2; // touches session state wherever it stands (TEMP, HOLD, set_config)
const SIMPLE_QUERY = 4; // opens a query the prefilter itself may prove read-only: SELECT, TABLE, SHOW
const QUERY = 8; // opens a query only the parser can prove read-only: VALUES, WITH, EXPLAIN
const UNPROVEN = 16; // keeps a simple query from being proven read-only here: FOR (UPDATE), INTO

const WORDS: ReadonlyArray<readonly [string, number]> = [
  ['set', START], ['reset', START], ['discard', START], ['listen', START], ['unlisten', START],
  ['prepare', START], ['deallocate', START], ['close', START], ['load', START], ['drop', START],
  ['do', START], ['begin', START], ['start', START], ['commit', START], ['end', START],
  ['rollback', START], ['abort', START],
  ['temp', ANYWHERE], ['temporary', ANYWHERE], ['hold', ANYWHERE], ['set_config', ANYWHERE],
  ['select', SIMPLE_QUERY], ['table', SIMPLE_QUERY], ['show', SIMPLE_QUERY],
  ['values', QUERY], ['with', QUERY], ['explain', QUERY],
  ['for', UNPROVEN], ['into', UNPROVEN],
];

/** identifiers that start these touch session state too: pg_temp.x, pg_advisory_lock(...) */
const PREFIXES: readonly string[] = ['pg_temp', 'pg_advisory_', 'pg_try_advisory_'];

/**
 * One more character into a word's hash. Bit 0x20 set first makes letters lower case, cheaper
 * than folding only them; what else it folds together a letter-by-letter check tells apart.
 */
function hashStep(hash: number, c: number): number {
  return (Math.imul(hash, 31) + (c | 0x20)) | 0;
}

/** WORDS by their hash; a hit is confirmed letter by letter */
const WORD_TABLE: ReadonlyMap<number, readonly [string, number]> = (() => {
  const table = new Map<number, readonly [string, number]>();
  for (const entry of WORDS) {
    let h = 0;
    for (let i = 0; i < entry[0].length; i++) h = hashStep(h, entry[0].charCodeAt(i));
    if (table.has(h)) throw new Error(`prefilter word table: ${entry[0]} collides`);
    table.set(h, entry);
  }
  return table;
})();

/** ASCII letters to lower case, everything else as it is */
function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/** READ_ONLY_OPERATORS of one character, by code */
const ONE_CHAR_OPERATORS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (const op of READ_ONLY_OPERATORS) if (op.length === 1) table[op.charCodeAt(0)] = 1;
  return table;
})();

/** character classes of ASCII; every character from 0x80 up is an identifier character */
const SPACE = 1; // space, \t, \n, \v, \f, \r
const IDENT_START = 2; // A-Z a-z _
const IDENT_PART = 4; // IDENT_START, digits, and '$' (in identifiers, not in dollar-quote tags)
const DIGIT = 8;
const OP = 16; // PostgreSQL's operator characters: ~ ! @ # ^ & | ` ? + - * / % < > =

const CLASSES: Uint8Array = (() => {
  const classes = new Uint8Array(128);
  const mark = (chars: string, flags: number): void => {
    for (const ch of chars) classes[ch.charCodeAt(0)]! |= flags;
  };
  mark(' \t\n\v\f\r', SPACE);
  mark('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_', IDENT_START | IDENT_PART);
  mark('0123456789', DIGIT | IDENT_PART);
  mark('$', IDENT_PART);
  mark('~!@#^&|`?+-*/%<>=', OP);
  return classes;
})();

/** the classes of a character code; 0 for NaN, which charCodeAt gives past the end */
function classOf(c: number): number {
  return c < 0x80 ? CLASSES[c]! : c >= 0x80 ? IDENT_START | IDENT_PART : 0;
}

function isIdentStart(c: number): boolean {
  return (classOf(c) & IDENT_START) !== 0;
}

/** a dollar-quote tag's characters after the first: an identifier's, less '$' */
function isTagPart(c: number): boolean {
  return c !== 0x24 && (classOf(c) & IDENT_PART) !== 0;
}

function isDigit(c: number): boolean {
  return (classOf(c) & DIGIT) !== 0;
}

function isSpace(c: number): boolean {
  return (classOf(c) & SPACE) !== 0;
}

function isOpChar(c: number): boolean {
  return (classOf(c) & OP) !== 0;
}

/** the flags of the text's word [start, end) (case-insensitive), 0 when it is none of WORDS */
function wordFlags(sql: string, start: number, end: number, hash: number): number {
  const entry = WORD_TABLE.get(hash);
  if (entry === undefined || entry[0].length !== end - start) return prefixFlags(sql, start, end);
  const word = entry[0];
  for (let i = 0; i < word.length; i++) {
    if (lower(sql.charCodeAt(start + i)) !== word.charCodeAt(i)) return prefixFlags(sql, start, end);
  }
  return entry[1];
}

function prefixFlags(sql: string, start: number, end: number): number {
  if (end - start < 7 || lower(sql.charCodeAt(start)) !== 0x70) return 0; // p
  for (const prefix of PREFIXES) {
    if (end - start < prefix.length) continue;
    let i = 0;
    while (i < prefix.length && lower(sql.charCodeAt(start + i)) === prefix.charCodeAt(i)) i++;
    if (i === prefix.length) return ANYWHERE;
  }
  return 0;
}

/** the whole text of a "quoted identifier" checked as a word would be */
function quotedFlags(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = hashStep(h, text.charCodeAt(i));
  return wordFlags(text, 0, text.length, h) & ANYWHERE;
}

/**
 * Where the string literal opened at `open` (the quote) ends: the index after its closing quote,
 * or -1 when it does not end. `escapes`: an E'' string, where a backslash escapes the next character.
 */
function stringEnd(sql: string, open: number, escapes: boolean): number {
  let i = open + 1;
  for (;;) {
    const quote = sql.indexOf("'", i);
    if (quote < 0) return -1;
    if (escapes) {
      let backslashes = 0;
      for (let j = quote - 1; j > open && sql.charCodeAt(j) === 0x5c; j--) backslashes++;
      // an escaped quote: but \\ before it is an escaped backslash, so only an odd run counts
      if (backslashes % 2 === 1) {
        i = quote + 1;
        continue;
      }
    }
    if (sql.charCodeAt(quote + 1) === 0x27) {
      i = quote + 2;
      continue;
    }
    return quote + 1;
  }
}

/**
 * After an E'' string: true when a newline and then another quote follow (comments allowed
 * between), which PostgreSQL reads as the same E'' string continued; too rare to follow here.
 */
function continues(sql: string, i: number): boolean {
  let newline = false;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) newline = true;
    if (isSpace(c)) i++;
    else if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      while (i < sql.length && sql.charCodeAt(i) !== 0x0a && sql.charCodeAt(i) !== 0x0d) i++;
    } else return newline && c === 0x27;
  }
  return false;
}

/** the index after a (nested) block comment opened at `open`, or -1 when it does not end */
function blockCommentEnd(sql: string, open: number): number {
  let depth = 1;
  let i = open + 2;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (c === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      if (--depth === 0) return i + 2;
      i += 2;
    } else i++;
  }
  return -1;
}

/**
 * Scans `sql` and returns NEEDS_PARSE or the number of statements n, with kinds[0..n) (PLAIN or
 * READ_ONLY) for each; entries past n are stale. `routing`: a query the prefilter cannot prove
 * read-only (a SELECT calling a function, WITH, EXPLAIN, ...) needs the parser too; otherwise it
 * is PLAIN.
 */
export function prefilter(sql: string, routing: boolean, kinds: number[]): number {
  // Plain locals, no closure over them: V8 keeps them in registers.
  const n = sql.length;
  let count = 0; // statements finished
  let tokens = 0; // tokens in the current statement
  let opener = 0; // flags of the current statement's first word; QUERY for '('
  let unproven = false; // something a simple query may not hold to be proven read-only here
  let depth = 0;
  let i = 0;
  // the end of the text ends the last statement as a ';' would
  while (i <= n) {
    const c = i < n ? sql.charCodeAt(i) : 0x3b;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      // -- to the end of the line
      while (i < n && sql.charCodeAt(i) !== 0x0a && sql.charCodeAt(i) !== 0x0d) i++;
      continue;
    }
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      i = blockCommentEnd(sql, i);
      if (i < 0) return NEEDS_PARSE;
      continue;
    }
    if (c === 0x3b) {
      // ';' inside parentheses belongs to BEGIN ATOMIC or a rule's action list: the parser splits those
      if (depth !== 0) return NEEDS_PARSE;
      if (tokens > 0) {
        const kind = statementKind(opener, unproven, routing);
        if (kind === NEEDS_PARSE) return NEEDS_PARSE;
        kinds[count++] = kind;
        tokens = 0;
        opener = 0;
        unproven = false;
      }
      i++;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      let hash = 0;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if ((classOf(d) & IDENT_PART) === 0) break;
        hash = hashStep(hash, d);
        i++;
      }
      const next = sql.charCodeAt(i);
      if (i - start === 1 && (c | 0x20) === 0x65 && next === 0x27) {
        // E'...': backslash escapes, and a continuation on a later line stays in that mode
        i = stringEnd(sql, i, true);
        if (i < 0 || continues(sql, i)) return NEEDS_PARSE;
        tokens++;
        continue;
      }
      // U&"..." may spell any name with escapes
      if (i - start === 1 && (c | 0x20) === 0x75 && next === 0x26 && sql.charCodeAt(i + 1) === 0x22) return NEEDS_PARSE;
      const flags = wordFlags(sql, start, i, hash);
      if ((flags & ANYWHERE) !== 0) return NEEDS_PARSE;
      if (tokens === 0) {
        if ((flags & START) !== 0) return NEEDS_PARSE;
        opener = flags;
      } else if ((flags & UNPROVEN) !== 0) unproven = true;
      tokens++;
      continue;
    }
    tokens++;
    if (c === 0x27) {
      i = stringEnd(sql, i, false);
      if (i < 0) return NEEDS_PARSE;
    } else if (c === 0x22) {
      const open = i;
      for (;;) {
        const close = sql.indexOf('"', i + 1);
        if (close < 0) return NEEDS_PARSE;
        i = close + 1;
        if (sql.charCodeAt(i) !== 0x22) break;
      }
      if (quotedFlags(sql.slice(open + 1, i - 1).replace(/""/g, '"')) !== 0) return NEEDS_PARSE;
    } else if (c === 0x24) {
      i = dollar(sql, i);
      if (i < 0) return NEEDS_PARSE;
    } else if (isDigit(c) || (c === 0x2e && isDigit(sql.charCodeAt(i + 1)))) {
      i = numberEnd(sql, i);
    } else if (c === 0x28) {
      if (tokens === 1) opener = QUERY;
      depth++;
      unproven = true;
      i++;
    } else if (c === 0x29) {
      if (--depth < 0) return NEEDS_PARSE;
      i++;
    } else if (isOpChar(c)) {
      const start = i;
      // the loop took a comment that opens here already; one may also start inside the run
      while (i < n && isOpChar(sql.charCodeAt(i))) {
        const d = sql.charCodeAt(i);
        const e = sql.charCodeAt(i + 1);
        if ((d === 0x2d && e === 0x2d) || (d === 0x2f && e === 0x2a)) break;
        i++;
      }
      // only a simple query's operators matter, and most are one character long
      if (!unproven && (opener & SIMPLE_QUERY) !== 0) {
        unproven = i - start === 1 ? !ONE_CHAR_OPERATORS[c]! : !READ_ONLY_OPERATORS.has(sql.slice(start, i));
      }
    } else {
      // , . : :: [ ] and anything the lexer itself would reject
      if (c !== 0x2c && c !== 0x2e && c !== 0x3a && c !== 0x5b && c !== 0x5d) unproven = true;
      i++;
    }
  }
  return count;
}

/** what a finished statement is, from its first word and what followed */
function statementKind(opener: number, unproven: boolean, routing: boolean): number {
  if ((opener & SIMPLE_QUERY) !== 0 && !unproven) return READ_ONLY;
  if (routing && (opener & (SIMPLE_QUERY | QUERY)) !== 0) return NEEDS_PARSE;
  return PLAIN;
}

/** after $: a parameter ($1) or a dollar-quoted string ($$...$$, $tag$...$tag$); -1 when neither ends */
function dollar(sql: string, open: number): number {
  let i = open + 1;
  if (isDigit(sql.charCodeAt(i))) {
    while (isDigit(sql.charCodeAt(i))) i++;
    return i;
  }
  if (sql.charCodeAt(i) !== 0x24) {
    if (!isIdentStart(sql.charCodeAt(i))) return -1;
    while (i < sql.length && isTagPart(sql.charCodeAt(i))) i++;
    if (sql.charCodeAt(i) !== 0x24) return -1;
  }
  const tag = sql.slice(open, i + 1);
  const close = sql.indexOf(tag, i + 1);
  return close < 0 ? -1 : close + tag.length;
}

/** digits, '.', '_' and an exponent; letters after a number are read as the next word, as PostgreSQL 15 reads them */
function numberEnd(sql: string, i: number): number {
  for (;;) {
    const c = sql.charCodeAt(i);
    if (isDigit(c) || c === 0x2e || c === 0x5f) i++;
    else if ((c | 0x20) === 0x65) {
      const sign = sql.charCodeAt(i + 1);
      const at = sign === 0x2b || sign === 0x2d ? i + 2 : i + 1;
      if (!isDigit(sql.charCodeAt(at))) return i;
      i = at;
    } else return i;
  }
}
