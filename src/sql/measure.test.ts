// A micro-measure of classify() on the hot path, not a timed assertion: skipped unless asked for.
//   SQL_MEASURE=1 npx vitest run src/sql/measure.test.ts
// Measured on the 2-core development machine (Node 20, libpg-query 17.7.4), ns per call, where
// a bare hashing loop over the SELECT's 52 characters costs 130-150:
//   classify, pgbench SELECT (…WHERE aid = $1), decided by the prefilter           350-380
//   classify, pgbench UPDATE, decided by the prefilter                              440-490
//   classifyForRouting, pgbench SELECT: cache lookup (a miss), then the prefilter   350-370
//   classifyForRouting, SELECT count(*) … (needs the parser), cache hit               80-85
//   classifyForRouting, a new text each time: cache miss and a full parse        ~16 000
import { beforeAll, describe, expect, it } from 'vitest';
import { classify, classifyForRouting, classifierCounters, loadClassifier } from './index.js';

beforeAll(async () => {
  await loadClassifier();
});

function nsPerCall(calls: number, run: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(calls, 10_000); i++) run(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run(i);
  return Number(process.hrtime.bigint() - start) / calls;
}

describe.runIf(process.env.SQL_MEASURE === '1')('classify, ns per call', () => {
  it('on the hot path', () => {
    const select = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    const update = 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2';
    const counted = 'SELECT count(*) FROM pgbench_accounts WHERE aid = $1';
    const parsedBefore = classifierCounters.parsed;
    const figures: Record<string, number> = {
      'classify, pgbench SELECT, prefilter': nsPerCall(1_000_000, () => classify(select)),
      'classify, pgbench UPDATE, prefilter': nsPerCall(1_000_000, () => classify(update)),
      'classifyForRouting, pgbench SELECT, cache miss + prefilter': nsPerCall(1_000_000, () => classifyForRouting(select)),
      'classifyForRouting, SELECT count(*), cache hit': nsPerCall(1_000_000, () => classifyForRouting(counted)),
    };
    // all of those but one parse of `counted` came without the parser
    expect(classifierCounters.parsed - parsedBefore).toBe(1);
    let unique = 0;
    figures['classifyForRouting, new text, parse'] = nsPerCall(20_000, () => classifyForRouting(`${counted} + ${unique++}`));
    const plain = 'x'.repeat(select.length);
    figures[`for scale: a bare loop over ${select.length} characters`] = nsPerCall(1_000_000, () => {
      let hash = 0;
      for (let i = 0; i < plain.length; i++) hash = (Math.imul(hash, 31) + plain.charCodeAt(i)) | 0;
      return hash;
    });
    console.table(Object.entries(figures).map(([path, ns]) => ({ path, ns: Math.round(ns) })));
  });
});
