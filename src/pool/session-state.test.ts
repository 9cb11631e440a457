// A client's session state: what a server is told to make it the client's, what RESET goes back
// to, and which pins which statements undo.
import { describe, expect, it } from 'vitest';
import { SessionState } from './session-state.js';

const TRACKED = new Set(['client_encoding', 'timezone', 'application_name']);
const set = (name: string, value: string | null, local = false) => ({ kind: 'set', name, value, local }) as const;

describe('SessionState', () => {
  it('replays startup settings as PostgreSQL reads them: a search_path list stays a list, tracked names are left to ParameterStatus', () => {
    const session = new SessionState(new Map([['search_path', 'a,b'], ['Work_Mem', '64MB'], ['TimeZone', 'UTC']]), TRACKED);
    expect(session.replayOn(new Map())).toBe(`SET "search_path" = 'a', 'b';SET "work_mem" = '64MB';`);
  });

  it('sends only what differs, and resets what the server holds that the client does not', () => {
    const session = new SessionState(new Map(), TRACKED);
    session.commit([set('statement_timeout', "'5s'")]);
    expect(session.replayOn(new Map([['statement_timeout', "'5s'"]]))).toBeNull();
    expect(session.replayOn(new Map([['search_path', "'x'"]]))).toBe(`SET "statement_timeout" = '5s';RESET "search_path";`);
  });

  it('RESET goes back to the startup value, RESET ALL to all of them; SET LOCAL and tracked names change nothing', () => {
    const session = new SessionState(new Map([['statement_timeout', '1s']]), TRACKED);
    const start = session.key;
    session.commit([set('statement_timeout', "'9s'"), set('work_mem', "'1MB'"), set('lock_timeout', "'2s'", true), set('application_name', "'x'")]);
    expect(session.replayOn(new Map())).toBe(`SET "statement_timeout" = '9s';SET "work_mem" = '1MB';`);
    session.commit([set('statement_timeout', null)]);
    expect(session.replayOn(new Map())).toBe(`SET "statement_timeout" = '1s';SET "work_mem" = '1MB';`);
    session.commit([{ kind: 'reset_all' }]);
    expect(session.key).toBe(start);
  });

  it('pins by name and unpins when the last one goes; advisory locks and LOAD only by "all" or never', () => {
    const session = new SessionState(new Map(), TRACKED);
    expect(session.pin('temp_table', 't1')).toBe('temp_table');
    expect(session.pin('temp_table', 't2')).toBeNull();
    session.commit([{ kind: 'unpin', reason: 'temp_table', name: 't1', all: false }]);
    expect(session.pinReason).toBe('temp_table');
    session.commit([{ kind: 'unpin', reason: 'temp_table', name: 't2', all: false }]);
    expect(session.pinned).toBe(false);
    session.pin('advisory_lock', null);
    session.commit([{ kind: 'unpin', reason: 'advisory_lock', name: null, all: false }]);
    expect(session.pinReason).toBe('advisory_lock');
    session.commit([{ kind: 'unpin', reason: 'advisory_lock', name: null, all: true }]);
    expect(session.pinned).toBe(false);
    session.pin('load', 'auto_explain');
    expect(session.spoiledServer).toBe(true);
  });
});
