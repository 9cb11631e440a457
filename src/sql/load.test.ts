// The grammar loads asynchronously once; before that the classifier says so instead of guessing.
import { expect, it } from 'vitest';
import { PoolerError } from '../errors.js';
import { classify, classifyForRouting, loadClassifier } from './index.js';

it('throws a clear error before loadClassifier() has resolved, and works after', async () => {
  expect(() => classify('SELECT 1')).toThrow(PoolerError);
  expect(() => classifyForRouting('SELECT 1')).toThrow(/await loadClassifier\(\)/);
  await loadClassifier();
  await loadClassifier();
  expect(classify('SELECT 1')).toHaveLength(1);
});
