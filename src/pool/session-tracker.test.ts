// SessionTracker's Parse verdicts: a Parse this client sent last is known again by its bytes, and
// only by bytes equal to the very ones it was judged on.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClassifier } from '../sql/index.js';
import { wire } from '../testing/wire.js';
import { SessionTracker, type TrackerPool } from './session-tracker.js';

beforeAll(async () => {
  await loadClassifier();
});

const Parse = (sql: string) => wire().cstring('').cstring(sql).int16(0).message('P');

function tracker(): SessionTracker {
  const pool: TrackerPool = { mode: 'transaction', sessionStateMode: 'track_and_pin', stats: { pinnedMs: 0 }, onPinned: () => undefined };
  return new SessionTracker({ id: 1, startupSettings: new Map(), trackedParameterNames: new Set() }, pool);
}

function noteParse(t: SessionTracker, message: Buffer): void {
  expect(t.noteParse(message, 0, message.length)).toBeNull();
}

describe('SessionTracker.noteParse', () => {
  it('gives a Parse sent again byte for byte the effects it gave the first time', () => {
    const t = tracker();
    for (let i = 0; i < 3; i++) {
      noteParse(t, Parse("set search_path = 'a'"));
      expect(t.takePending()).toEqual([expect.objectContaining({ kind: 'set' })]);
    }
  });

  it('judges a Parse of the same length but another text on its own', () => {
    const t = tracker();
    noteParse(t, Parse('select 1'));
    expect(t.session.pinned).toBe(false);
    noteParse(t, Parse('listen a'));
    expect(t.session.pinned).toBe(true);
  });

  it('after a long Parse, a shorter one is remembered in the same buffer and still told apart from the long one', () => {
    const t = tracker();
    for (let i = 0; i < 2; i++) {
      noteParse(t, Parse("set search_path = 'a_much_longer_schema_name'"));
      expect(t.takePending()).toEqual([expect.objectContaining({ kind: 'set' })]);
      noteParse(t, Parse('select 1'));
      noteParse(t, Parse('select 1'));
      expect(t.takePending()).toBeNull();
    }
  });

  it('keeps its own copy of the bytes: a chunk written over afterwards (a reused read buffer) is judged again', () => {
    const t = tracker();
    const chunk = Parse('select 1');
    noteParse(t, chunk);
    Parse('listen a').copy(chunk);
    noteParse(t, chunk);
    expect(t.session.pinned).toBe(true);
  });
});
