// The classifier's entry points: the keyword prefilter first, then the verdict cache, then
// PostgreSQL's grammar. Never throws once loadClassifier() has resolved.
import { VerdictCache } from './cache.js';
import { statementEffects } from './effects.js';
import { assertParserLoaded, loadParser, parseStatements } from './parser.js';
import { NEEDS_PARSE, prefilter, READ_ONLY } from './prefilter.js';
import { isReadOnly } from './read-only.js';
import { NEUTRAL, NEUTRAL_READ_ONLY, PARSE_ERROR, verdict, type StatementVerdict } from './verdict.js';
import type { Node } from 'libpg-query';

/** plain numbers, read by whoever reports them */
export const classifierCounters = {
  /** texts decided by the prefilter alone */
  prefiltered: 0,
  cacheHits: 0,
  /** texts the grammar parsed (cache misses), syntax errors included */
  parsed: 0,
  parseErrors: 0,
  /** texts whose parse tree the classifier failed to read: answered as opaque */
  failures: 0,
  /** texts over MAX_PARSED_LENGTH the prefilter could not decide: answered as opaque, unparsed */
  tooLarge: 0,
};

/**
 * Longer texts are not parsed: the WebAssembly parser takes ~50 ms a MB and keeps the memory it
 * grew to (a 64 MB text leaves the process 600 MB larger), so one client could stall or bloat the
 * pooler. Such a text gets a single opaque verdict, unless the prefilter decides it alone.
 */
export const MAX_PARSED_LENGTH = 2 * 1024 * 1024;

/** verdicts routing may use: parsed, or prefiltered for routing */
const cache = new VerdictCache<readonly StatementVerdict[]>(10_000, 64 * 1024, 8 * 1024 * 1024);
/**
 * classifyRepeated's prefilter answers, kept apart: they leave readOnly undecided for a SELECT
 * that calls a function, and routing must not take that for "not read-only" (a Parse seen first
 * inside a write transaction would send every later read of the same text to the primary)
 */
const sessionOnlyCache = new VerdictCache<readonly StatementVerdict[]>(10_000, 64 * 1024, 8 * 1024 * 1024);

/** the prefilter's per-statement answers, reused from call to call */
const kinds: number[] = [];

/** the verdict for a statement whose parse tree could not be read: anything may happen */
const UNREADABLE = verdict([], null, false, true);
const ONE_UNREADABLE = Object.freeze([UNREADABLE]);

const ONE_NEUTRAL = Object.freeze([NEUTRAL]);
const ONE_READ_ONLY = Object.freeze([NEUTRAL_READ_ONLY]);
const ONE_PARSE_ERROR = Object.freeze([PARSE_ERROR]);
const NO_STATEMENTS: readonly StatementVerdict[] = Object.freeze([]);

/** compiles PostgreSQL's grammar (WebAssembly); await once at startup, before the first classify */
export async function loadClassifier(): Promise<void> {
  await loadParser();
}

/**
 * One verdict per statement of a simple Query or Parse text, for session effects and transaction
 * control. `readOnly` is true only where it came free (the prefilter proved it, or the text was
 * parsed anyway): ask classifyForRouting when routing depends on it. A syntax error anywhere gives
 * a single verdict with parseError set.
 */
export function classify(sql: string): readonly StatementVerdict[] {
  return run(sql, false, false);
}

/**
 * classify for a text that is likely to come again (a Parse: the extended protocol sends the same
 * parameterised text each time): the cache is asked first, and even the prefilter's answers are
 * kept, so a repeat costs a lookup instead of a scan. A Query's text, which often holds literal
 * values and so is new each time, goes through `classify` and does not fill the cache.
 */
export function classifyRepeated(sql: string): readonly StatementVerdict[] {
  return run(sql, false, true);
}

/** the longest text whose prefilter answer classifyRepeated keeps */
const MAX_KEPT_PREFILTERED_LENGTH = 4096;

/** classify, and `readOnly` decided for every statement: parses the SELECTs the prefilter cannot prove */
export function classifyForRouting(sql: string): readonly StatementVerdict[] {
  return run(sql, true, false);
}

/** classifyForRouting for a Parse's text, which comes again and again: kept in the cache even when the prefilter decided it */
export function classifyRepeatedForRouting(sql: string): readonly StatementVerdict[] {
  return run(sql, true, true);
}

/** forgets every cached verdict (tests, and a pooler that wants to drop the memory) */
export function clearClassifierCache(): void {
  cache.clear();
  sessionOnlyCache.clear();
}

function run(sql: string, routing: boolean, repeated: boolean): readonly StatementVerdict[] {
  assertParserLoaded();
  // The server reads a Query's text up to its terminating NUL, whatever follows.
  const nul = sql.indexOf('\0');
  if (nul >= 0) sql = sql.slice(0, nul);
  // Routing parses most SELECTs, so their cached verdicts come first; session-effect
  // classification lets most texts through the prefilter, so that comes first.
  if (routing || repeated) {
    const hit = cache.get(sql) ?? (routing ? undefined : sessionOnlyCache.get(sql));
    if (hit !== undefined) {
      classifierCounters.cacheHits++;
      return hit;
    }
  }
  const count = prefilter(sql, routing, kinds);
  if (count !== NEEDS_PARSE) {
    classifierCounters.prefiltered++;
    const verdicts = prefiltered(count);
    if (repeated && sql.length <= MAX_KEPT_PREFILTERED_LENGTH) (routing ? cache : sessionOnlyCache).set(sql, verdicts);
    return verdicts;
  }
  if (!routing && !repeated) {
    const hit = cache.get(sql);
    if (hit !== undefined) {
      classifierCounters.cacheHits++;
      return hit;
    }
  }
  if (sql.length > MAX_PARSED_LENGTH) {
    classifierCounters.tooLarge++;
    return ONE_UNREADABLE;
  }
  const verdicts = parsed(sql);
  cache.set(sql, verdicts);
  return verdicts;
}

function prefiltered(count: number): readonly StatementVerdict[] {
  if (count === 0) return NO_STATEMENTS;
  if (count === 1) return kinds[0] === READ_ONLY ? ONE_READ_ONLY : ONE_NEUTRAL;
  const verdicts: StatementVerdict[] = [];
  for (let i = 0; i < count; i++) verdicts.push(kinds[i] === READ_ONLY ? NEUTRAL_READ_ONLY : NEUTRAL);
  return Object.freeze(verdicts);
}

function parsed(sql: string): readonly StatementVerdict[] {
  classifierCounters.parsed++;
  const statements = parseStatements(sql);
  if (statements === null) {
    classifierCounters.parseErrors++;
    return ONE_PARSE_ERROR;
  }
  if (statements.length === 0) return NO_STATEMENTS;
  return Object.freeze(statements.map(statementVerdict));
}

function statementVerdict(stmt: Node): StatementVerdict {
  try {
    const { effects, tx, opaque } = statementEffects(stmt);
    const readOnly = isReadOnly(stmt);
    if (effects.length === 0 && tx === null && !opaque) return readOnly ? NEUTRAL_READ_ONLY : NEUTRAL;
    return verdict(effects, tx, readOnly, opaque);
  } catch {
    // a parse tree shaped in a way this code does not expect: say "unknown", never throw at the pooler
    classifierCounters.failures++;
    return UNREADABLE;
  }
}
