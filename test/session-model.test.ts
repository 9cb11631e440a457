// The differential fuzz's session generator stays clear of a PostgreSQL 15.18 crash (see
// bindsBeforeUse in support/session-model.ts): a crash would restart every backend of the server
// the whole run shares and fail tests that have nothing to do with it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extendedBlock } from './support/session-model.js';

describe('session model', () => {
  it('never executes or describes the unnamed portal in an extended block before that block binds it', () => {
    const blocks = fc.sample(extendedBlock, { numRuns: 3000, seed: 740979361 });
    const usedBeforeBind = blocks.filter((block) => {
      const steps = block.label.slice(1, -1).split('; ');
      const firstBind = steps.findIndex((step) => step.startsWith('B '));
      const firstUse = steps.findIndex((step) => step.startsWith('E ') || step === 'D P');
      return firstUse >= 0 && (firstBind < 0 || firstUse < firstBind);
    });
    expect(usedBeforeBind.map((block) => block.label)).toEqual([]);
    // the rule leaves Execute and Describe of a bound portal in plenty of blocks
    expect(blocks.filter((block) => /B [^;]*;.*(E \d|D P)/.test(block.label)).length).toBeGreaterThan(300);
  });
});
