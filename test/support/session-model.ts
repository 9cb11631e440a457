// Generated client sessions for differential tests: blocks of simple queries, extended-protocol
// pipelines, transactions with savepoints and failures, COPY in and out, notices, FunctionCall,
// and values from empty to 16 MB. Every block ends in exactly one ReadyForQuery, so a reader knows
// when a session's replies are complete; `mutate` breaks valid sessions for the hostile tests.
import fc from 'fast-check';
import { wire } from '../../src/testing/wire.js';
import { bind, close, describe, execute, flush, parse, query, sync } from './extended-protocol.js';

/** one self-contained exchange: its bytes and a label for the shrunk counterexample */
export interface Block {
  label: string;
  bytes: Buffer;
  /** opens, ends or needs a transaction block (not legal in statement mode) */
  transaction: boolean;
}

/** Bind values: mostly short, some up to 1 MB, rarely 4-16 MB (about one in 70) */
const value = fc.oneof(
  { weight: 60, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 10, arbitrary: fc.integer({ min: 1000, max: 1 << 20 }).map((n) => 'v'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 4 << 20, max: 16 << 20 }).map((n) => 'w'.repeat(n)) },
);

const scalarSql = fc.oneof(
  fc.integer({ min: -5, max: 1000 }).map((n) => `SELECT ${n} AS n`),
  fc.integer({ min: 0, max: 2000 }).map((n) => `SELECT g, md5(g::text) FROM generate_series(1, ${n}) g`),
  fc.integer({ min: 0, max: 200_000 }).map((n) => `SELECT repeat('r', ${n}) AS r`),
  fc.constant('SELECT 1/0'),
  fc.constant('SELEC broken'),
  fc.constant('SELECT * FROM no_such_table'),
  fc.constant(''),
  fc.constant('SELECT 1; SELECT 2'),
  fc.integer({ min: 1, max: 30 }).map((n) => `DO $$ BEGIN FOR i IN 1..${n} LOOP RAISE NOTICE 'notice %', i; END LOOP; END $$`),
  fc.constant("SELECT pg_notify('fuzz_channel', 'payload')"),
);

const simpleBlock: fc.Arbitrary<Block> = scalarSql.map((sql) => ({ label: `Q ${sql.slice(0, 60)}`, bytes: query(sql), transaction: false }));

const transactionBlock: fc.Arbitrary<Block> = fc
  .constantFrom(
    'BEGIN',
    'COMMIT',
    'ROLLBACK',
    'SAVEPOINT s1',
    'ROLLBACK TO SAVEPOINT s1',
    'RELEASE SAVEPOINT s1',
    'BEGIN; SELECT 1/0; COMMIT',
    'BEGIN READ ONLY',
    'START TRANSACTION ISOLATION LEVEL REPEATABLE READ',
  )
  .map((sql) => ({ label: `Q ${sql}`, bytes: query(sql), transaction: true }));

const statementName = fc.constantFrom('', '', 'fz_a', 'fz_b');

interface ExtendedStep {
  label: string;
  bytes: Buffer;
  /** a Bind makes the unnamed portal; an Execute or Describe of it uses it */
  portal?: 'bind' | 'use';
}

/** Parse/Bind/Describe/Execute/Close/Flush in any order that a driver might send, ending in one Sync */
const extendedStep: fc.Arbitrary<ExtendedStep> = fc.oneof(
  fc.tuple(statementName, fc.constantFrom('SELECT $1::text AS t', 'SELECT length($1::text) AS n', 'SELECT $1::int AS i', 'SELECT 1/0')).map(([name, sql]) => ({ label: `P ${name} ${sql}`, bytes: parse(name, sql) })),
  fc.tuple(statementName, value).map(([name, v]) => ({ label: `B ${name} (${v.length})`, bytes: bind('', name, [v]), portal: 'bind' as const })),
  statementName.map((name) => ({ label: `D S ${name}`, bytes: describe('S', name) })),
  fc.constant({ label: 'D P', bytes: describe('P', ''), portal: 'use' as const }),
  fc.integer({ min: 0, max: 3 }).map((rows) => ({ label: `E ${rows}`, bytes: execute('', rows), portal: 'use' as const })),
  statementName.map((name) => ({ label: `C S ${name}`, bytes: close('S', name) })),
  fc.constant({ label: 'H', bytes: flush() }),
);

/**
 * A block uses the unnamed portal only after a Bind of its own. PostgreSQL 15.18 segfaults on an
 * Execute of the unnamed portal that a failed ROLLBACK TO SAVEPOINT left behind: BEGIN; SELECT 1/0;
 * ROLLBACK TO SAVEPOINT s1 (no such savepoint); a Query of COPY (SELECT g, repeat('o', g % 100)
 * FROM generate_series(1, 4326) g) TO STDOUT; Execute; Sync. The crash restarts every backend of
 * the server the whole test run shares, so the generator must not find it again.
 */
function bindsBeforeUse(steps: ExtendedStep[]): ExtendedStep[] {
  let bound = false;
  const kept = steps.filter((step) => {
    if (step.portal === 'bind') bound = true;
    return bound || step.portal !== 'use';
  });
  return kept.length > 0 ? kept : [{ label: 'H', bytes: flush() }];
}

export const extendedBlock: fc.Arbitrary<Block> = fc.array(extendedStep, { minLength: 1, maxLength: 12 }).map((generated) => {
  const steps = bindsBeforeUse(generated);
  return {
    label: `[${steps.map((s) => s.label).join('; ')}; S]`,
    bytes: Buffer.concat([...steps.map((s) => s.bytes), sync()]),
    transaction: false,
  };
});

const copyData = fc.array(fc.integer({ min: 0, max: 4000 }), { maxLength: 5 }).map((rows) => rows.map((n) => wire().bytes(`${n}\t${'c'.repeat(n % 300)}\n`).message('d')));

/** COPY FROM STDIN ended by CopyDone or CopyFail, by simple query or extended protocol (libpq's Sync before and after) */
const copyInBlock: fc.Arbitrary<Block> = fc.tuple(copyData, fc.boolean(), fc.boolean(), fc.boolean()).map(([data, fail, extended, badRow]) => {
  const sql = 'COPY fuzz_copy FROM STDIN';
  const rows = badRow ? [...data, wire().bytes('not-a-number\tx\n').message('d')] : data;
  const end = fail ? wire().cstring('fuzz says no').message('f') : wire().message('c');
  const bytes = extended
    ? Buffer.concat([parse('', sql), bind('', ''), execute(''), sync(), ...rows, end, sync()])
    : Buffer.concat([query(sql), ...rows, end]);
  return { label: `COPY IN ${extended ? 'extended' : 'simple'} ${rows.length} rows${fail ? ' CopyFail' : ''}${badRow ? ' bad row' : ''}`, bytes, transaction: false };
});

const copyOutBlock: fc.Arbitrary<Block> = fc.integer({ min: 0, max: 20_000 }).map((n) => ({
  label: `COPY OUT ${n}`,
  bytes: query(`COPY (SELECT g, repeat('o', g % 100) FROM generate_series(1, ${n}) g) TO STDOUT`),
  transaction: false,
}));

/** pg_backend_pid() would differ; abs(int4) with an argument does not */
const functionCallBlock: fc.Arbitrary<Block> = fc.integer({ min: -1000, max: 1000 }).map((n) => {
  const arg = Buffer.from(String(n));
  return { label: `F abs(${n})`, bytes: wire().int32(1397 /* abs(int4) */).int16(1).int16(0).int16(1).int32(arg.length).bytes(arg).int16(0).message('F'), transaction: false };
});

export function sessionArbitrary(options: { transactions: boolean }): fc.Arbitrary<Block[]> {
  const blocks = [
    { weight: 4, arbitrary: simpleBlock },
    { weight: 4, arbitrary: extendedBlock },
    { weight: 1, arbitrary: copyInBlock },
    { weight: 1, arbitrary: copyOutBlock },
    { weight: 1, arbitrary: functionCallBlock },
  ];
  if (options.transactions) blocks.push({ weight: 3, arbitrary: transactionBlock });
  return fc.array(fc.oneof(...blocks), { minLength: 1, maxLength: 10 });
}

/** where to cut a session's bytes into separate TCP writes: a few random offsets */
export function cutsArbitrary(): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 });
}

/** the query every session ends with, so its last ReadyForQuery is known */
export const END_OF_SESSION = query("SELECT 'end of session' AS marker");
