// The prefilter on its own: where statements end, which words send a text to the parser, and
// which simple queries it proves read-only. (property.test.ts holds it against the parser.)
import { describe, expect, it } from 'vitest';
import { NEEDS_PARSE, PLAIN, prefilter, READ_ONLY } from './prefilter.js';

function scan(sql: string, routing = false): number[] | 'parse' {
  const kinds: number[] = [];
  return prefilter(sql, routing, kinds) === NEEDS_PARSE ? 'parse' : kinds;
}

describe('splitting into statements', () => {
  it.each([
    ['', []],
    [' \n\t\r\f\v', []],
    [';', []],
    ['; ; ;', []],
    ['-- x\n', []],
    ['/* x */', []],
    ['SELECT 1', [READ_ONLY]],
    ['SELECT 1;', [READ_ONLY]],
    ['SELECT 1; SELECT 2', [READ_ONLY, READ_ONLY]],
    ["SELECT ';'; UPDATE t SET a = 1", [READ_ONLY, PLAIN]],
    ['SELECT $$;$$; SELECT $a$;$a$', [READ_ONLY, READ_ONLY]],
    ['SELECT ";" FROM t; DELETE FROM t', [READ_ONLY, PLAIN]],
    ['SELECT 1 -- ;\n; INSERT INTO t VALUES (1)', [READ_ONLY, PLAIN]],
    ['SELECT 1 /* ; /* ; */ ; */ ; VACUUM', [READ_ONLY, PLAIN]],
  ] as const)('%j', (sql, kinds) => {
    expect(scan(sql)).toEqual(kinds);
  });
});

describe('words that send the text to the parser', () => {
  it.each([
    'SET x = 1',
    'set x = 1',
    'sEt x = 1',
    'RESET ALL',
    'DISCARD ALL',
    'LISTEN c',
    'UNLISTEN *',
    'PREPARE q AS SELECT 1',
    'DEALLOCATE q',
    'CLOSE c',
    "LOAD 'x'",
    'DROP TABLE t',
    'DO $$ $$',
    'BEGIN',
    'START TRANSACTION',
    'COMMIT',
    'END',
    'ROLLBACK',
    'ABORT',
    'SELECT 1; SET x = 1',
    '/* c */ SET x = 1',
    '-- c\nSET x = 1',
    'CREATE TEMP TABLE t (x int)',
    'create Temporary table t (x int)',
    'CREATE TABLE pg_temp.t (x int)',
    'CREATE TABLE PG_TEMP_3.t (x int)',
    'CREATE TABLE "pg_temp".t (x int)',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    "SELECT set_config('a', 'b', false)",
    'SELECT "set_config"(\'a\', \'b\', false)',
    'SELECT pg_advisory_lock(1)',
    'SELECT PG_TRY_ADVISORY_LOCK_SHARED(1)',
    'SELECT pg_advisory_unlock_all()',
    'INSERT INTO t SELECT pg_advisory_lock(1)',
    // prefixes are matched as prefixes: a column called pg_tempo costs a parse, no more
    'SELECT pg_tempo FROM t',
  ])('%j', (sql) => {
    expect(scan(sql)).toBe('parse');
  });
});

describe('words that do not', () => {
  it.each([
    'UPDATE t SET x = 1',
    'ALTER TABLE t SET SCHEMA s',
    'SELECT settings FROM t',
    'SELECT x AS reset FROM t',
    'SELECT * FROM t WHERE a = \'SET x = 1\'',
    'SELECT 1 -- SET x = 1',
    'SELECT $$ CREATE TEMP TABLE t $$',
    "SELECT e'\\' SET x = 1'",
    'SELECT x FROM t ORDER BY 1; COMMENT ON TABLE t IS \'temp\'',
    'SELECT templates FROM t',
    'SELECT "Set_Config_Value" FROM t',
    'SELECT CASE WHEN a THEN 1 END FROM t',
    'INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING',
  ])('%j', (sql) => {
    expect(scan(sql)).not.toBe('parse');
  });
});

describe('doubt sends the text to the parser', () => {
  it.each([
    ["SELECT 'unterminated", 'an unterminated string'],
    ['SELECT "unterminated', 'an unterminated identifier'],
    ['SELECT $$ unterminated', 'an unterminated dollar quote'],
    ['SELECT 1 /* unterminated', 'an unterminated comment'],
    ['SELECT 1 /* /* */', 'a nested comment left open'],
    ['SELECT (1; 2)', "a ';' inside parentheses"],
    ['SELECT 1)', 'an unbalanced parenthesis'],
    ['SELECT (1', 'an unclosed parenthesis'],
    ['SELECT U&"\\0073et_config"(1)', 'a U&"" identifier, which escapes can spell'],
    ["SELECT E'a'\n'b'", "an E'' string continued on the next line"],
    ['SELECT $a b', 'a $ that opens nothing'],
  ])('%j: %s', (sql) => {
    expect(scan(sql)).toBe('parse');
  });
});

describe('read-only proofs', () => {
  it.each([
    ['SELECT abalance FROM pgbench_accounts WHERE aid = $1', READ_ONLY],
    ['SELECT a FROM t WHERE b <> 1 AND c >= 2 OR d || e = f', READ_ONLY],
    ['SELECT * FROM t', READ_ONLY],
    ['TABLE t', READ_ONLY],
    ['SHOW ALL', READ_ONLY],
    ['SELECT a::int, b[1:2] FROM t', READ_ONLY],
    ['SELECT a FROM t FOR UPDATE', PLAIN],
    ['SELECT a INTO b FROM t', PLAIN],
    ['SELECT f(a) FROM t', PLAIN],
    ['SELECT a === b FROM t', PLAIN],
    ['SELECT a FROM t WHERE b @@@ c', PLAIN],
    ['VALUES (1)', PLAIN],
    ['WITH a AS (SELECT 1) SELECT * FROM a', PLAIN],
    ['EXPLAIN SELECT 1', PLAIN],
    ['(SELECT 1)', PLAIN],
    ['UPDATE t SET a = 1', PLAIN],
  ] as const)('%j', (sql, kind) => {
    expect(scan(sql)).toEqual([kind]);
  });

  it('sends the queries it cannot prove to the parser when routing, and only those', () => {
    expect(scan('SELECT f(a) FROM t', true)).toBe('parse');
    expect(scan('WITH a AS (SELECT 1) SELECT * FROM a', true)).toBe('parse');
    expect(scan('(SELECT 1)', true)).toBe('parse');
    expect(scan('EXPLAIN SELECT 1', true)).toBe('parse');
    expect(scan('SELECT a FROM t', true)).toEqual([READ_ONLY]);
    expect(scan('UPDATE t SET a = f(1)', true)).toEqual([PLAIN]);
    expect(scan('INSERT INTO t VALUES (1); DELETE FROM t', true)).toEqual([PLAIN, PLAIN]);
  });
});
