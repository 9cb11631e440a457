// Generated SQL against both paths: classify never throws, and the prefilter never lets a text
// by that the parser finds doing something (a session effect, transaction control, an opaque
// statement), nor proves read-only a statement the parser does not.
import fc from 'fast-check';
import type { Node } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { classify, classifyForRouting, loadClassifier } from './classify.js';
import { statementEffects } from './effects.js';
import { parseStatements } from './parser.js';
import { NEEDS_PARSE, prefilter, READ_ONLY } from './prefilter.js';
import { isReadOnly } from './read-only.js';

beforeAll(async () => {
  await loadClassifier();
});

/** text for the insides of literals, identifiers and comments: quotes, keywords and separators */
const content = fc
  .array(
    fc.constantFrom(
      'a', 'x1', ' ', ';', "'", '"', '$', '$$', '$a$', '\\', '\n', '--', '/*', '*/', '(', ')',
      'SET x = 1', 'set_config', 'pg_advisory_lock', 'TEMP', 'LISTEN', 'é', 'E',
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

const stringLiteral = fc.oneof(
  content.map((s) => `'${s.replace(/'/g, "''")}'`),
  content.map((s) => `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`),
  fc.tuple(fc.constantFrom('', 'a', 'tag_1'), content).map(([tag, s]) => {
    const delimiter = `$${tag}$`;
    return `${delimiter}${s.split(delimiter).join('')}${delimiter}`;
  }),
);

const identifier = fc.oneof(
  fc.constantFrom('t', 'x', 'abalance', 'temp', 'Set', 'pg_temp', 'a$b', 'café'),
  content.filter((s) => s.length > 0).map((s) => `"${s.replace(/"/g, '""')}"`),
);

/** whitespace and comments between tokens */
const trivia = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(' ', '\n', '\t ', '  ') },
  content.map((s) => ` /* ${s.split('/*').join('').split('*/').join('')} */ `),
  content.map((s) => ` /* a /* ${s.split('/*').join('').split('*/').join('')} */ b */ `),
  content.map((s) => ` --${s.replace(/[\n\r]/g, '')}\n`),
  // right against the token before: a comment may open inside a run of operator characters
  content.map((s) => `--${s.replace(/[\n\r]/g, '')}\n`),
  content.map((s) => `/*${s.split('/*').join('').split('*/').join('')}*/`),
);

/** a keyword in random case */
function keyword(word: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
}

const expression: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('1', '-2.5e3', '$1', 'x', 'now()', 'count(*)', 'nextval(\'s\')', 'CURRENT_USER'),
  stringLiteral,
  identifier,
  stringLiteral.map((s) => `lower(${s})`),
  fc.tuple(identifier, fc.constantFrom('=', '<>', '+', '||', '===', '->>'), trivia, stringLiteral).map(([a, op, gap, b]) => `${a} ${op}${gap}${b}`),
);

/** statements that do nothing the pooler tracks, with literals and identifiers full of keywords */
const quietStatement: fc.Arbitrary<readonly fc.Arbitrary<string>[]> = fc.oneof(
  fc.tuple(expression, fc.option(identifier), fc.option(expression)).map(([e, from, where]) => [
    keyword('select'), fc.constant(e),
    ...(from === null ? [] : [keyword('from'), fc.constant(from)]),
    ...(where === null ? [] : [keyword('where'), fc.constant(where)]),
  ]),
  fc.tuple(expression).map(([e]) => [keyword('update'), fc.constant('t'), keyword('set'), fc.constant('x ='), fc.constant(e)]),
  fc.tuple(expression).map(([e]) => [keyword('insert'), keyword('into'), fc.constant('t'), keyword('values'), fc.constant(`(${e})`)]),
  fc.tuple(identifier, stringLiteral).map(([name, value]) => [keyword('alter'), keyword('role'), fc.constant(name), keyword('set'), fc.constant('a.b ='), fc.constant(value)]),
  fc.tuple(identifier, expression).map(([name, e]) => [keyword('with'), fc.constant(`${name} AS (SELECT ${e})`), keyword('select'), fc.constant('1')]),
);

/** statements that do something: every form the prefilter must send on */
const activeStatement: fc.Arbitrary<readonly fc.Arbitrary<string>[]> = fc.oneof(
  fc.tuple(identifier, stringLiteral).map(([name, value]) => [keyword('set'), fc.constant(`${name}.x`), fc.constant('='), fc.constant(value)]),
  fc.tuple(identifier).map(([name]) => [keyword('reset'), fc.constant(name)]),
  fc.tuple(stringLiteral).map(([value]) => [keyword('set'), keyword('local'), fc.constant('a.b'), keyword('to'), fc.constant(value)]),
  fc.tuple(stringLiteral).map(([zone]) => [keyword('set'), keyword('time'), keyword('zone'), fc.constant(zone)]),
  fc.tuple(fc.constantFrom('TEMP ', 'temporary ', '', 'UNLOGGED '), identifier).map(([temp, name]) => [
    keyword('create'), fc.constant(`${temp}TABLE`), fc.constant(name), fc.constant('(x int)'),
  ]),
  fc.tuple(identifier).map(([name]) => [keyword('listen'), fc.constant(name)]),
  fc.constant([keyword('unlisten'), fc.constant('*')]),
  fc.tuple(stringLiteral, fc.constantFrom('false', 'true', "'f'")).map(([value, local]) => [
    keyword('select'), fc.constant(`set_config('a.b', ${value}, ${local})`),
  ]),
  fc.constant([keyword('select'), fc.constant('pg_advisory_lock(1)')]),
  fc.constant([keyword('begin')]),
  fc.constant([keyword('commit')]),
  fc.tuple(fc.constantFrom('WITH HOLD', 'WITHOUT HOLD', '')).map(([hold]) => [
    keyword('declare'), fc.constant('c'), keyword('cursor'), fc.constant(hold), keyword('for'), keyword('select'), fc.constant('1'),
  ]),
  fc.tuple(stringLiteral).map(([body]) => [keyword('do'), fc.constant(body)]),
  fc.tuple(identifier).map(([name]) => [keyword('drop'), keyword('table'), fc.constant(name)]),
);

/** a statement as tokens, trivia to go between them; most are quiet, as in real traffic */
const statement = fc.oneof({ weight: 4, arbitrary: quietStatement }, { weight: 1, arbitrary: activeStatement });

/** statements joined by ';', with trivia between every token; sometimes a stray token of noise */
export const sqlTextForStats = fc
  .array(statement, { minLength: 1, maxLength: 3 })
  .chain((statements) =>
    fc.tuple(
      ...statements.map((tokens) =>
        fc.tuple(...tokens, ...tokens.map(() => trivia)).map((parts) => {
          const words = parts.slice(0, tokens.length);
          const gaps = parts.slice(tokens.length);
          return words.map((word, i) => `${word}${gaps[i]}`).join('');
        }),
      ),
    ),
  )
  .map((statements) => statements.join(';'));
const sqlText = sqlTextForStats;

const noise = fc.string({ unit: fc.constantFrom('S', 'E', 'T', ' ', ';', "'", '"', '$', '-', '/', '*', '(', ')', 'e', '\\', '\n', '1', '&', 'U', '_') });

/** what the parser says of a text: null for a syntax error, else per statement (does something, read-only) */
function parserView(sql: string): { acts: boolean; readOnly: boolean }[] | null {
  const statements: Node[] | null = parseStatements(sql.split('\0')[0]!);
  if (statements === null) return null;
  return statements.map((stmt) => {
    const { effects, tx, opaque } = statementEffects(stmt);
    return { acts: effects.length > 0 || tx !== null || opaque, readOnly: isReadOnly(stmt) };
  });
}

function prefilterAgrees(sql: string): void {
  const view = parserView(sql);
  for (const routing of [false, true]) {
    const kinds: number[] = [];
    if (prefilter(sql, routing, kinds) === NEEDS_PARSE || view === null) continue;
    expect(kinds.length, `statement count of ${JSON.stringify(sql)}`).toBe(view.length);
    view.forEach((statement, i) => {
      expect(statement.acts, `prefilter let by ${JSON.stringify(sql)}`).toBe(false);
      if (kinds[i] === READ_ONLY) expect(statement.readOnly, `read-only ${JSON.stringify(sql)}`).toBe(true);
      // routing: whatever the prefilter does not prove read-only is not, to the parser either
      else if (routing) expect(statement.readOnly, `not read-only ${JSON.stringify(sql)}`).toBe(false);
    });
  }
}

describe('against the parser', () => {
  it('the prefilter misses nothing in generated statements', () => {
    fc.assert(fc.property(sqlText, prefilterAgrees), { numRuns: Number(process.env.SQL_PROPERTY_RUNS ?? 3000) });
  });

  it('the prefilter misses nothing in generated statements with noise spliced in', () => {
    const spliced = fc.tuple(sqlText, noise, fc.nat()).map(([sql, extra, at]) => {
      const i = at % (sql.length + 1);
      return sql.slice(0, i) + extra + sql.slice(i);
    });
    fc.assert(fc.property(spliced, prefilterAgrees), { numRuns: Number(process.env.SQL_PROPERTY_RUNS ?? 3000) });
  });

  it('classify never throws and gives well-formed verdicts, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(sqlText, noise, fc.string(), fc.string({ unit: 'binary' })), (sql) => {
        for (const verdicts of [classify(sql), classifyForRouting(sql)]) {
          for (const v of verdicts) {
            expect(typeof v.readOnly).toBe('boolean');
            expect(Array.isArray(v.effects)).toBe(true);
            if (v.parseError) expect(verdicts).toHaveLength(1);
          }
        }
      }),
      { numRuns: Number(process.env.SQL_PROPERTY_RUNS ?? 3000) },
    );
  });
});
