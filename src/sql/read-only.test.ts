// readOnly as classifyForRouting decides it: true only for queries that provably write nothing,
// lock no rows and call only allow-listed builtins; and the same answer whether or not the
// prefilter could decide alone.
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyForRouting, loadClassifier } from './index.js';

beforeAll(async () => {
  await loadClassifier();
});

function readOnly(sql: string): boolean[] {
  return classifyForRouting(sql).map((v) => v.readOnly);
}

describe('provably read-only', () => {
  it.each([
    'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
    'SELECT 1',
    'select * from t where a >= 1 and b <> 2 order by c desc limit 10 offset 5',
    'SELECT a, b FROM t JOIN u USING (id) WHERE u.x IN (1, 2, 3)',
    'SELECT count(*), sum(x), avg(x), min(x), max(x) FROM t GROUP BY y HAVING count(*) > 1',
    'SELECT now(), current_timestamp, CURRENT_USER, version(), current_setting(\'work_mem\')',
    "SELECT coalesce(a, b), nullif(a, 0), greatest(a, b), lower(s), upper(s), length(s) FROM t",
    "SELECT date_trunc('day', ts), EXTRACT(year FROM ts), ts AT TIME ZONE 'UTC' FROM t",
    'SELECT * FROM generate_series(1, 10) AS g(i)',
    'SELECT array_agg(x ORDER BY x), string_agg(s, \',\') FROM t',
    "SELECT doc->'a'->>'b', doc #>> '{a,b}', doc @> '{}' FROM t",
    'SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t',
    'SELECT x FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)',
    'SELECT x FROM t WHERE y = ANY (SELECT y FROM u)',
    "SELECT 'a' LIKE 'b%' ESCAPE '!', s ILIKE 'x', s ~ '^a', x BETWEEN 1 AND 2 FROM t",
    'SELECT pg_catalog.lower(s) FROM t',
    'SELECT pg_sleep(0.1)',
    'WITH a AS (SELECT 1 AS x) SELECT x FROM a',
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r',
    'SELECT 1 UNION SELECT 2 EXCEPT SELECT 3',
    'SELECT x FROM t ORDER BY x USING >',
    'VALUES (1, 2), (3, 4)',
    'TABLE pgbench_branches',
    'SHOW work_mem',
    'SHOW ALL',
    '(SELECT 1)',
    'EXPLAIN SELECT * FROM t',
    'EXPLAIN (COSTS off) SELECT nextval(\'s\')',
    'EXPLAIN UPDATE t SET x = 1',
    'EXPLAIN ANALYZE SELECT count(*) FROM t',
    "SELECT x::text, CAST(y AS int), z::numeric(10, 2) FROM t",
    "SELECT 'SET x = 1', $$ nextval('s') $$",
  ])('%s', (sql) => {
    expect(readOnly(sql)).toEqual([true]);
  });
});

describe('not read-only', () => {
  it.each([
    'INSERT INTO t VALUES (1)',
    'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
    'DELETE FROM t',
    'MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE',
    'CREATE TABLE t (x int)',
    'SELECT * INTO t2 FROM t',
    'SELECT x FROM t FOR UPDATE',
    'SELECT x FROM t FOR NO KEY UPDATE SKIP LOCKED',
    'SELECT x FROM t FOR SHARE',
    'SELECT x FROM t FOR KEY SHARE NOWAIT',
    'SELECT x FROM (SELECT x FROM t FOR UPDATE) s',
    'WITH a AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM a',
    'WITH a AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM a',
    'WITH a AS (DELETE FROM t RETURNING *) SELECT * FROM a',
    "SELECT nextval('s')",
    "SELECT setval('s', 1)",
    "SELECT currval('s')",
    'SELECT pg_advisory_lock(1)',
    'SELECT pg_try_advisory_xact_lock(1)',
    "SELECT set_config('a.b', '1', true)",
    "SELECT pg_notify('c', 'x')",
    'SELECT txid_current()',
    'SELECT pg_current_wal_lsn()',
    'SELECT my_function(1)',
    'SELECT x FROM my_srf(1)',
    'SELECT public.lower(s) FROM t',
    'SELECT my_agg(x) FROM t',
    'SELECT a OPERATOR(public.===) b FROM t',
    'SELECT a === b FROM t',
    'SELECT x FROM t WHERE y <<<>>> ANY (SELECT y FROM u)',
    'SELECT x FROM t ORDER BY x USING <<<>>>',
    'EXPLAIN ANALYZE INSERT INTO t VALUES (1)',
    "EXPLAIN (ANALYZE true) SELECT nextval('s')",
    'SET work_mem = 1',
    'BEGIN READ ONLY',
    'LISTEN c',
    'CALL p()',
    'EXECUTE q(1)',
    'DO $$ BEGIN END $$',
    'COPY t TO STDOUT',
    'SELEC 1',
  ])('%s', (sql) => {
    expect(readOnly(sql)).toEqual([false]);
  });
});

describe('each statement of a text on its own', () => {
  it('is read-only or not by itself', () => {
    expect(readOnly('SELECT 1; UPDATE t SET x = 1; SELECT now(); SELECT x FROM t FOR UPDATE')).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });
});

describe('the prefilter proves only what the parser proves', () => {
  // the prefilter alone decides these: no parentheses, known operators, no FOR or INTO
  it.each([
    ['SELECT a FROM t WHERE b = 1', true],
    ['SELECT a FROM t WHERE b = 1 FOR UPDATE', false],
    ['SELECT a INTO b FROM t', false],
    ['SELECT a FROM t WHERE b === 1', false],
    ['SELECT a FROM t WHERE b = -1', true],
    ['SELECT a FROM t WHERE b =-1', true],
    ['SHOW work_mem', true],
    ['TABLE t', true],
    ['TABLE t FOR SHARE', false],
    ['SELECT a[1:2], b::int FROM t', true],
  ] as const)('%s', (sql, expected) => {
    expect(readOnly(sql)).toEqual([expected]);
  });
});
