// The sql module's public face: classify a statement text for the session state it touches, the
// transaction control it does and whether it is provably read-only.
export type { PinReason, SessionEffect, StatementVerdict, TxControl } from './verdict.js';
export { describeVerdict, isNeutral } from './verdict.js';
export {
  classify,
  classifyForRouting,
  classifyRepeated,
  classifyRepeatedForRouting,
  classifierCounters,
  clearClassifierCache,
  loadClassifier,
  MAX_PARSED_LENGTH,
} from './classify.js';
export { replaySet } from './guc.js';
