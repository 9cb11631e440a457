// Every statement form the pooler acts on, and the tricks that try to hide one, classified through
// the public entry points; each row gives the verdicts as describeVerdict writes them.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classify,
  classifyForRouting,
  classifyRepeated,
  classifyRepeatedForRouting,
  classifierCounters,
  describeVerdict,
  loadClassifier,
  MAX_PARSED_LENGTH,
} from './index.js';

beforeAll(async () => {
  await loadClassifier();
});

function described(sql: string): string[] {
  return classify(sql).map(describeVerdict);
}

type Row = readonly [sql: string, verdicts: readonly string[]];

function table(rows: readonly Row[]): void {
  it.each(rows)('%s', (sql, verdicts) => {
    expect(described(sql)).toEqual(verdicts);
  });
}

describe('SET and RESET', () => {
  table([
    ['SET work_mem = 65536', ['set work_mem=65536']],
    ["set Work_Mem to '64MB'", ["set work_mem='64MB'"]],
    ['SET SESSION statement_timeout = 1.5e3', ['set statement_timeout=1.5e3']],
    ['SET extra_float_digits TO -3', ['set extra_float_digits=-3']],
    ['SET enable_seqscan = off', ["set enable_seqscan='off'"]],
    ['SET enable_seqscan = false', ["set enable_seqscan='false'"]],
    ['SET work_mem TO DEFAULT', ['set work_mem=default']],
    ['SET work_mem = DEFAULT', ['set work_mem=default']],
    ['RESET work_mem', ['set work_mem=default']],
    ['RESET ALL', ['reset all']],
    ['SET sort_mem = 1000', ['set work_mem=1000']],
    ['SET myapp.user_id = 42', ['set myapp.user_id=42']],
    ['SET "MyApp.Tenant" = \'acme\'', ["set myapp.tenant='acme'"]],
    ["SET application_name = 'it''s \\ here'", ["set application_name=E'it''s \\\\ here'"]],
    ["SET application_name = E'tab\\there'", ["set application_name='tab\there'"]],
    ["SET search_path = public, \"My Schema\", 'c d'", ["set search_path='public', 'My Schema', 'c d'"]],
    ['SET search_path TO DEFAULT', ['set search_path=default']],
    // with pg_temp first, an unqualified CREATE TABLE makes a temporary table
    ['SET search_path = pg_temp, public', ["set search_path='pg_temp', 'public', pin temp_table"]],
    ['SET LOCAL search_path = pg_temp', ["local search_path='pg_temp', pin temp_table"]],
    ["SELECT set_config('search_path', 'pg_temp', true)", ["local search_path='pg_temp', pin temp_table"]],
    ["SET TIME ZONE 'Europe/Paris'", ["set timezone='Europe/Paris'"]],
    ['SET TIME ZONE -3.5', ['set timezone=-3.5']],
    ['SET TIME ZONE LOCAL', ['set timezone=default']],
    ['SET TIME ZONE DEFAULT', ['set timezone=default']],
    ["SET TIME ZONE INTERVAL '+02:00'", ["set timezone='INTERVAL ''+02:00'''"]],
    // the qualifier changes what the literal means and SET has no spelling for it: unknown
    ["SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE", ['opaque']],
    ['RESET TIME ZONE', ['set timezone=default']],
    ["SET SCHEMA 'app'", ["set search_path='app'"]],
    ["SET NAMES 'LATIN1'", ["set client_encoding='LATIN1'"]],
    ['SET NAMES DEFAULT', ['set client_encoding=default']],
    ['SET XML OPTION DOCUMENT', ["set xmloption='DOCUMENT'"]],
    ['SET work_mem FROM CURRENT', ['neutral']],
    // session-level SET inside a transaction block: still a session effect (until a rollback)
    ['BEGIN; SET work_mem = 1; COMMIT', ['begin', 'set work_mem=1', 'commit']],
  ]);
});

describe('local settings have no session effect', () => {
  table([
    ['SET LOCAL work_mem = 1', ['local work_mem=1']],
    ['SET LOCAL TIME ZONE UTC', ["local timezone='utc'"]],
    ['SET LOCAL work_mem TO DEFAULT', ['local work_mem=default']],
    ["SELECT set_config('work_mem', '1MB', true)", ["local work_mem='1MB'"]],
    ["SELECT set_config('work_mem', '1MB', 'on') FROM t WHERE x", ["local work_mem='1MB'"]],
    ['SET LOCAL ROLE admin', ["local role='admin'"]],
    ["SELECT set_config('a.b', x, true) FROM t", ['neutral']],
  ]);
});

describe('set_config', () => {
  table([
    ["SELECT set_config('work_mem', '64MB', false)", ["set work_mem='64MB'"]],
    ["SELECT pg_catalog.set_config('search_path', '', false)", ["set search_path=''"]],
    ["select SET_CONFIG('search_path', 'Foo, \"Bar\", \"$user\"', 'f')", ["set search_path='foo', 'Bar', '$user'"]],
    ["SELECT set_config('application_name', 'a' :: text, false)", ["set application_name='a'"]],
    ["SELECT set_config('a.b', '1', false), set_config('c.d', '2', false)", ["set a.b='1', set c.d='2'"]],
    ["SELECT set_config('role', 'admin', false)", ['pin set_role(role)']],
    ["SELECT set_config('role', 'none', false)", ['unpin set_role(role)']],
    ["SELECT set_config('search_path', 'pg_temp, public', false)", ["set search_path='pg_temp', 'public', pin temp_table"]],
    // where it may run any number of times, or not at all, or with an unknown value: opaque
    ["SELECT set_config('a.b', '1', false) FROM t", ['opaque']],
    ["SELECT set_config('a.b', '1', false) WHERE false", ['opaque']],
    ["SELECT set_config('a.b', '1', false) LIMIT 0", ['opaque']],
    ["SELECT CASE WHEN x THEN set_config('a.b', '1', false) END", ['opaque']],
    ["SELECT set_config('a.b', current_user, false)", ['opaque']],
    ["SELECT set_config(name, '1', false) FROM settings", ['opaque']],
    ["SELECT set_config('a.b', '1', is_local)", ['opaque']],
    ["SELECT set_config('search_path', '\"unterminated', false)", ['opaque']],
    ["INSERT INTO t SELECT set_config('a.b', '1', false)", ['opaque']],
    ["SELECT 1 UNION SELECT set_config('a.b', '1', false)", ['opaque']],
    // someone else's set_config is not PostgreSQL's
    ["SELECT myschema.set_config('a.b', '1', false)", ['neutral']],
  ]);
});

describe('transaction characteristics', () => {
  table([
    ['SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE', ["set default_transaction_isolation='serializable'"]],
    [
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY, ISOLATION LEVEL READ COMMITTED, NOT DEFERRABLE',
      ["set default_transaction_read_only='on', set default_transaction_isolation='read committed', set default_transaction_deferrable='off'"],
    ],
    ['SET TRANSACTION READ ONLY', ['set transaction read only']],
    ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', ['set transaction']],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE', ['set transaction read write']],
    ["SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", ['neutral']],
  ]);
});

describe('transaction control', () => {
  table([
    ['BEGIN', ['begin']],
    ['begin read only', ['begin read only']],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE', ['begin read write']],
    ['START TRANSACTION READ ONLY', ['begin read only']],
    ['COMMIT', ['commit']],
    ['END', ['commit']],
    ['COMMIT AND CHAIN', ['commit and chain']],
    ['ROLLBACK', ['rollback']],
    ['ABORT', ['rollback']],
    ['ROLLBACK AND CHAIN', ['rollback and chain']],
    ["PREPARE TRANSACTION 'gid'", ['commit']],
    ["COMMIT PREPARED 'gid'", ['neutral']],
    ['SAVEPOINT a; RELEASE a; ROLLBACK TO SAVEPOINT a', ['neutral', 'neutral', 'neutral']],
  ]);
});

describe('pins', () => {
  table([
    ['CREATE TEMP TABLE t (x int)', ['pin temp_table(t)']],
    ['CREATE TEMPORARY TABLE IF NOT EXISTS t (x int)', ['pin temp_table(t)']],
    ['CREATE LOCAL TEMP TABLE t (LIKE u)', ['pin temp_table(t)']],
    ['CREATE TABLE pg_temp.t (x int)', ['pin temp_table(t)']],
    ['create table PG_TEMP.t (x int)', ['pin temp_table(t)']],
    ['CREATE TEMP VIEW v AS SELECT 1', ['pin temp_table(v)']],
    ['CREATE TEMP SEQUENCE s', ['pin temp_table(s)']],
    ['SELECT 1 AS x INTO TEMP t', ['pin temp_table(t)']],
    ['SELECT * INTO TEMPORARY TABLE t FROM u', ['pin temp_table(t)']],
    ['CREATE TEMP TABLE t AS SELECT 1', ['pin temp_table(t)']],
    ['CREATE TEMP TABLE t AS SELECT 1 WITH NO DATA', ['pin temp_table(t)']],
    ["CREATE FUNCTION pg_temp.f() RETURNS int AS 'select 1' LANGUAGE sql", ['pin temp_table(f)']],
    ['CREATE TYPE pg_temp.pair AS (a int, b int)', ['pin temp_table(pair)']],
    // gone when the transaction ends, before the server can change hands
    ['CREATE TEMP TABLE t (x int) ON COMMIT DROP', ['neutral']],
    ['CREATE TABLE t (x int)', ['neutral']],
    ['CREATE UNLOGGED TABLE t (x int)', ['neutral']],
    ['CREATE TABLE t AS SELECT 1', ['neutral']],
    ['SELECT * INTO t FROM u', ['neutral']],
    ['LISTEN jobs', ['pin listen(jobs)']],
    ['LISTEN "Jobs"', ['pin listen(Jobs)']],
    ['SELECT pg_advisory_lock(1)', ['pin advisory_lock']],
    ['SELECT pg_try_advisory_lock(1, 2), pg_advisory_lock_shared(3)', ['pin advisory_lock, pin advisory_lock']],
    ['SELECT pg_try_advisory_lock_shared(k) FROM jobs WHERE id = 1 FOR UPDATE', ['pin advisory_lock']],
    ['UPDATE jobs SET owner = 1 WHERE pg_try_advisory_lock(id)', ['pin advisory_lock']],
    ['SELECT pg_advisory_xact_lock(1)', ['neutral']],
    ['SELECT pg_try_advisory_xact_lock_shared(1)', ['neutral']],
    ['PREPARE q AS SELECT 1', ['pin prepare(q)']],
    ['PREPARE q (int) AS SELECT pg_advisory_lock($1)', ['pin prepare(q)']],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', ['pin with_hold_cursor(c)']],
    ['DECLARE c BINARY NO SCROLL CURSOR WITH HOLD FOR SELECT 1', ['pin with_hold_cursor(c)']],
    ['DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1', ['neutral']],
    ['DECLARE c CURSOR FOR SELECT 1', ['neutral']],
    ['SET ROLE admin', ['pin set_role(role)']],
    ["SET ROLE 'admin'", ['pin set_role(role)']],
    ['SET SESSION AUTHORIZATION bob', ['pin set_role(session_authorization)']],
    ["LOAD 'auto_explain'", ['pin load(auto_explain)']],
  ]);
});

describe('unpins', () => {
  table([
    [
      'DISCARD ALL',
      ['unpin with_hold_cursor(*), unpin set_role(*), reset all, unpin prepare(*), unpin listen(*), unpin advisory_lock(*), unpin temp_table(*)'],
    ],
    ['DISCARD TEMP', ['unpin temp_table(*)']],
    ['DISCARD TEMPORARY', ['unpin temp_table(*)']],
    ['DISCARD PLANS', ['neutral']],
    ['DISCARD SEQUENCES', ['neutral']],
    ['UNLISTEN *', ['unpin listen(*)']],
    ['UNLISTEN jobs', ['unpin listen(jobs)']],
    ['DEALLOCATE ALL', ['unpin prepare(*)']],
    ['DEALLOCATE PREPARE ALL', ['unpin prepare(*)']],
    ['DEALLOCATE q', ['unpin prepare(q)']],
    ['DEALLOCATE PREPARE q', ['unpin prepare(q)']],
    ['SELECT pg_advisory_unlock_all()', ['unpin advisory_lock(*)']],
    ['SELECT pg_advisory_unlock(1)', ['unpin advisory_lock(?)']],
    ['SELECT pg_advisory_unlock_shared(1, 2)', ['unpin advisory_lock(?)']],
    ['CLOSE ALL', ['unpin with_hold_cursor(*)']],
    ['CLOSE c', ['unpin with_hold_cursor(c)']],
    ['DROP TABLE t', ['unpin temp_table(t)']],
    ['DROP TABLE IF EXISTS a, pg_temp.b, public.c CASCADE', ['unpin temp_table(a), unpin temp_table(b)']],
    ['DROP VIEW v', ['unpin temp_table(v)']],
    ['DROP SEQUENCE s', ['unpin temp_table(s)']],
    ['DROP INDEX i', ['neutral']],
    ['RESET ROLE', ['unpin set_role(role)']],
    ['SET ROLE NONE', ['unpin set_role(role)']],
    ['SET role TO DEFAULT', ['unpin set_role(role)']],
    ['RESET SESSION AUTHORIZATION', ['unpin set_role(session_authorization)']],
    ['SET SESSION AUTHORIZATION DEFAULT', ['unpin set_role(session_authorization)']],
  ]);
});

describe('opaque statements', () => {
  table([
    // a DO block can do anything a function can, and also commit: its effects are unknown
    ["DO $$ BEGIN EXECUTE 'SET work_mem = 1'; END $$", ['opaque']],
    ["DO LANGUAGE plpgsql 'BEGIN NULL; END'", ['opaque']],
  ]);
});

describe('EXPLAIN', () => {
  table([
    ['EXPLAIN SELECT pg_advisory_lock(1)', ['read-only']],
    ['EXPLAIN ANALYZE SELECT pg_advisory_lock(1)', ['pin advisory_lock']],
    ['EXPLAIN (ANALYZE, BUFFERS) SELECT pg_advisory_lock(1)', ['pin advisory_lock']],
    ['EXPLAIN (ANALYZE off) SELECT pg_advisory_lock(1)', ['read-only']],
    ['EXPLAIN (ANALYZE 0) CREATE TEMP TABLE t AS SELECT 1', ['read-only']],
    ['EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1', ['pin temp_table(t)']],
  ]);
});

describe('text that only looks like a session command', () => {
  table([
    ["SELECT 'SET x = 1'", ['read-only']],
    ["SELECT 'a''; SET x = 1; --'", ['read-only']],
    ["SELECT E'\\'; SET x = 1; --'", ['read-only']],
    ['SELECT $$; SET x = 1; $$', ['read-only']],
    ['SELECT $tag$ $$; LISTEN x; $$ $tag$', ['read-only']],
    ['SELECT 1 -- ; SET x = 1', ['read-only']],
    ['SELECT 1 /* ; SET x = 1 /* nested */ ; SET y = 2 */', ['read-only']],
    ['SELECT "SET x = 1" FROM t', ['read-only']],
    ['SELECT temp FROM weather', ['read-only']],
    ['SELECT x AS "temp" FROM t', ['read-only']],
    ['UPDATE accounts SET balance = balance + 1 WHERE id = 2', ['neutral']],
    ['ALTER TABLE t SET (fillfactor = 70)', ['neutral']],
    ['ALTER ROLE bob SET work_mem = 1', ['neutral']],
    ['ALTER DATABASE d SET search_path = x', ['neutral']],
    ["ALTER SYSTEM SET work_mem = '1MB'", ['neutral']],
    ['CREATE FUNCTION f() RETURNS int SET search_path = x AS $$ SELECT 1 $$ LANGUAGE sql', ['neutral']],
    ['CREATE VIEW v AS SELECT pg_advisory_lock(1)', ['neutral']],
    ['CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT pg_advisory_lock(1); END', ['neutral']],
    ["NOTIFY jobs, 'SET x'", ['neutral']],
  ]);
});

describe('tricks that hide a real session command', () => {
  table([
    ['/* comment */ SET x.y = 1', ['set x.y=1']],
    ['-- comment\nSET x.y = 1', ['set x.y=1']],
    ['   \n\t SeT x.y = 1', ['set x.y=1']],
    ['SELECT 1; SET x.y = 1', ['read-only', 'set x.y=1']],
    ["SELECT 'a'';'; SET x.y = 1", ['read-only', 'set x.y=1']],
    ["SELECT E'\\\\'; SET x.y = 1", ['read-only', 'set x.y=1']],
    ['SELECT $a$ $b$ $a$; SET x.y = 1', ['read-only', 'set x.y=1']],
    ['SELECT 1 /* /* */ */; SET x.y = 1', ['read-only', 'set x.y=1']],
    ['SELECT 1--\n;SET x.y = 1', ['read-only', 'set x.y=1']],
    ['SELECT "pg_advisory_lock"(1)', ['pin advisory_lock']],
    ['SELECT "set_config"(\'a.b\', \'1\', false)', ["set a.b='1'"]],
    ['CREATE TABLE "pg_temp".t (x int)', ['pin temp_table(t)']],
    ['SELECT a$$ FROM t; SET x.y = 1', ['read-only', 'set x.y=1']],
    ['SELECT 1e2; SET x.y = 1', ['read-only', 'set x.y=1']],
    ['select x from t where y=$1;set x.y=1', ['read-only', 'set x.y=1']],
    ['SELECT 1 FROM t WHERE a=1/*x*/;LISTEN c', ['read-only', 'pin listen(c)']],
    ['VALUES (pg_advisory_lock(1))', ['pin advisory_lock']],
    ['WITH l AS (SELECT pg_advisory_lock(1)) SELECT * FROM l', ['pin advisory_lock']],
    ['COPY (SELECT pg_advisory_lock(1)) TO STDOUT', ['pin advisory_lock']],
    ['CALL p(pg_advisory_lock(1))', ['pin advisory_lock']],
  ]);
});

describe('statements and their count', () => {
  table([
    ['', []],
    ['   ', []],
    [';;', []],
    ['-- only a comment', []],
    ['/* only a comment */', []],
    ['SELECT 1;', ['read-only']],
    ['SELECT 1;;SELECT 2;', ['read-only', 'read-only']],
    [
      "SET a.b = 1; CREATE TEMP TABLE t(x int); SELECT 1",
      ['set a.b=1', 'pin temp_table(t)', 'read-only'],
    ],
    // the text ends at a NUL, as the server reads it
    ['SELECT 1\0; SET x.y = 1', ['read-only']],
  ]);
});

describe('syntax errors', () => {
  it('give one parse-error verdict for the whole text: the server runs none of it', () => {
    expect(described('SET x = ')).toEqual(['parse error']);
    expect(described('SELECT 1; SET x.y = 1; SELEC 2')).toEqual(['parse error']);
    expect(described("SET x.y = 'unterminated")).toEqual(['parse error']);
    expect(described('SELECT $$ unterminated; SET x.y = 1')).toEqual(['parse error']);
    expect(described('SET x.y = 1 /* unterminated')).toEqual(['parse error']);
    expect(described('SELECT ' + 'f('.repeat(20_000) + '1' + ')'.repeat(20_000) + '; SET a.b = 1')).toEqual(['parse error']);
  });

  it('a text the prefilter lets by is neutral, not an error: the server reports it', () => {
    expect(described('SELEC 1')).toEqual(['neutral']);
  });
});

describe('big statements', () => {
  const big = `SELECT '${'x'.repeat(1024 * 1024)}'`;

  it('classifies a 1 MB statement without the parser', () => {
    const before = classifierCounters.parsed;
    expect(described(big)).toEqual(['read-only']);
    expect(described(`${big}; SET a.b = 1`)).toEqual(['read-only', 'set a.b=1']);
    expect(classifierCounters.parsed).toBe(before + 1);
  });

  it('classifies a 1 MB statement with the parser, and again (too big to cache)', () => {
    const sql = `SELECT set_config('a.b', '${'y'.repeat(1024 * 1024)}', false)`;
    const before = classifierCounters.parsed;
    expect(classify(sql)[0]!.effects[0]).toMatchObject({ kind: 'set', name: 'a.b' });
    expect(classify(sql)[0]!.effects[0]).toMatchObject({ kind: 'set', name: 'a.b' });
    expect(classifierCounters.parsed).toBe(before + 2);
  });

  it('does not parse a text over MAX_PARSED_LENGTH: one opaque verdict, unless the prefilter decides alone', () => {
    const huge = `SELECT '${'z'.repeat(MAX_PARSED_LENGTH)}'`;
    const before = classifierCounters.parsed;
    expect(described(huge)).toEqual(['read-only']);
    expect(described(`${huge}; SET a.b = 1`)).toEqual(['opaque']);
    expect(classifierCounters.parsed).toBe(before);
  });
});

describe('the hot path', () => {
  it('decides the pgbench statements without the parser', () => {
    const before = classifierCounters.parsed;
    for (const sql of [
      'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 7316;',
      'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
      'UPDATE pgbench_tellers SET tbalance = tbalance + -3414 WHERE tid = 3;',
      'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)',
    ]) {
      classify(sql);
      classifyForRouting(sql);
    }
    expect(classifierCounters.parsed).toBe(before);
  });

  it('answers a parsed text from the cache the second time', () => {
    const sql = "SELECT set_config('cache.probe', '1', false)";
    const first = classify(sql);
    const hits = classifierCounters.cacheHits;
    expect(classify(sql)).toBe(first);
    expect(classifierCounters.cacheHits).toBe(hits + 1);
  });

  it('hands out frozen verdicts', () => {
    const [v] = classify('LISTEN frozen');
    expect(Object.isFrozen(v)).toBe(true);
    expect(Object.isFrozen(v!.effects)).toBe(true);
    expect(Object.isFrozen(v!.effects[0])).toBe(true);
  });
});

describe('classifyRepeated (Parse texts)', () => {
  it('gives the same verdicts as classify, and a repeat is a cache hit even where the prefilter decided', () => {
    for (const sql of ['SELECT abalance FROM pgbench_accounts WHERE aid = $1 /* repeated */', 'SET search_path = app', 'BEGIN']) {
      expect(classifyRepeated(sql).map(describeVerdict)).toEqual(described(sql));
      const hits = classifierCounters.cacheHits;
      classifyRepeated(sql);
      expect(classifierCounters.cacheHits).toBe(hits + 1);
    }
  });
});

describe('the cache between session-state and routing verdicts', () => {
  it('does not let a Parse first classified for its session state decide its route', () => {
    // the prefilter alone, for session state, leaves readOnly undecided for a SELECT calling a function
    const sql = 'SELECT count(*) FROM orders WHERE customer = $1';
    expect(classifyRepeated(sql)[0]!.readOnly).toBe(false);
    expect(classifyRepeatedForRouting(sql)[0]!.readOnly).toBe(true);
    // and once routing parsed it, the session-state side reads the parsed verdict too
    expect(classifyRepeated(sql)[0]!.readOnly).toBe(true);
  });
});
