// Following one client's session state through its traffic (transaction and statement mode): the
// statements it sends are classified, pins taken at once, and the rest of their effects kept with
// their request until the replies say whether they stood and their transaction committed.
import { clock } from '../clock.js';
import { PoolerError, SqlState } from '../errors.js';
import { cstringEnd } from '../prepared/messages.js';
import { HEADER_LENGTH, TxStatus } from '../protocol/codes.js';
import { classify, classifyRepeated, type SessionEffect, type StatementVerdict, type TxControl } from '../sql/index.js';
import { SessionState, type PinCause } from './session-state.js';

/** what a request did to session state, kept with its Sync or Query in the reply queue */
export type Noted = SessionEffect | TxControl;

/** what settling a ReadyForQuery did to the settings the server holds */
export const Settled = {
  /** nothing committed */
  Nothing: 0,
  /** the server now holds the client's settings */
  Applied: 1,
  /** RESET ALL or DISCARD ALL: the server holds its own defaults */
  ResetAll: 2,
} as const;
export type Settled = (typeof Settled)[keyof typeof Settled];

/** the pool as the tracker reports to it */
export interface TrackerPool {
  readonly mode: 'session' | 'transaction' | 'statement';
  readonly sessionStateMode: 'track_and_pin' | 'error' | 'ignore';
  readonly stats: { pinnedMs: number };
  /** a client was pinned for `cause`, for the first time in its life when `firstTime` */
  onPinned(clientId: number, cause: PinCause, firstTime: boolean): void;
}

/** the client as the tracker needs it */
export interface TrackedClient {
  readonly id: number;
  readonly startupSettings: ReadonlyMap<string, string>;
  readonly trackedParameterNames: ReadonlySet<string>;
}

/** how errors and log lines name what pins a client */
export const PIN_WORDS: Record<PinCause, string> = {
  temp_table: 'a temporary table',
  listen: 'LISTEN',
  advisory_lock: 'a session advisory lock',
  prepare: 'a SQL-level PREPARE',
  with_hold_cursor: 'a cursor WITH HOLD',
  set_role: 'SET ROLE / SET SESSION AUTHORIZATION',
  load: 'LOAD',
  unknown: 'a statement whose effect on the session cannot be known (a DO block, a computed set_config)',
};

/** the longest Parse body noteParse remembers by its bytes */
const LAST_PARSE_KEPT = 4096;

/** the first `length` bytes of `kept` equal `buffer` from `start` on; a loop, as Buffer.compare's argument checks cost more than a short body */
function sameBytes(kept: Buffer, length: number, buffer: Buffer, start: number): boolean {
  for (let i = 0; i < length; i++) if (kept[i] !== buffer[start + i]) return false;
  return true;
}

export class SessionTracker {
  /** the client's settings and pins (session mode too: its startup settings are replayed once) */
  readonly session: SessionState;
  /** statements are classified: transaction and statement mode, unless session_state = ignore */
  readonly classifies: boolean;
  /** session_state = error: a statement that would pin is refused */
  private readonly refuses: boolean;
  /** effects of what was sent since the last Sync or Query, until that goes into the queue */
  private pending: Noted[] | null = null;
  /** effects staged in the open transaction block, applied when it commits */
  private txEffects: Noted[] = [];
  /** an ErrorResponse arrived since the last ReadyForQuery */
  private failedSinceReady = false;
  /** the last ReadyForQuery said the transaction block had failed */
  private txFailed = false;
  /** when the client was last pinned (ms), for the pinned-seconds count; 0 while not pinned */
  private pinnedSince = 0;
  /**
   * The body of the last Parse this client sent (its first lastParseLength bytes, -1: none kept),
   * copied into a buffer that grows only for a longer one, and its text's verdicts.
   */
  private lastParseBody: Buffer | null = null;
  private lastParseLength = -1;
  private lastParseVerdicts: readonly StatementVerdict[] = [];

  constructor(
    private readonly client: TrackedClient,
    private readonly pool: TrackerPool,
  ) {
    this.session = new SessionState(client.startupSettings, client.trackedParameterNames);
    this.classifies = pool.mode !== 'session' && pool.sessionStateMode !== 'ignore';
    this.refuses = pool.sessionStateMode === 'error';
  }

  /** a Query's text (buffer holds the whole message); the error to refuse it with, or null */
  noteQuery(buffer: Buffer, offset: number, total: number): PoolerError | null {
    return this.note(classify(buffer.toString('utf8', offset + HEADER_LENGTH, offset + total - 1)));
  }

  /**
   * A Parse's text, whose verdict is kept: the extended protocol sends the same text again and
   * again, most often the very Parse this client sent last, which is then known by its bytes alone.
   */
  noteParse(buffer: Buffer, offset: number, total: number): PoolerError | null {
    const end = offset + total;
    const bodyStart = offset + HEADER_LENGTH;
    const length = end - bodyStart;
    if (length === this.lastParseLength && sameBytes(this.lastParseBody!, length, buffer, bodyStart)) return this.note(this.lastParseVerdicts);
    const nameEnd = cstringEnd(buffer, bodyStart, end);
    const textEnd = nameEnd < 0 ? -1 : cstringEnd(buffer, nameEnd + 1, end);
    if (textEnd <= nameEnd) return null;
    const verdicts = classifyRepeated(buffer.toString('utf8', nameEnd + 1, textEnd));
    // a copy: the message's chunk is the socket's, and long texts are not worth keeping twice
    this.lastParseLength = -1;
    if (length <= LAST_PARSE_KEPT) {
      if (this.lastParseBody === null || this.lastParseBody.length < length) this.lastParseBody = Buffer.allocUnsafeSlow(length);
      buffer.copy(this.lastParseBody, 0, bodyStart, end);
      this.lastParseLength = length;
      this.lastParseVerdicts = verdicts;
    }
    return this.note(verdicts);
  }

  /** the effects to keep with a Sync or Query going into the queue now */
  takePending(): readonly Noted[] | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  /** restore effects a request carried that is sent again (a stale-plan retry) */
  restorePending(note: readonly Noted[] | null): void {
    if (note !== null) this.pending = [...note, ...(this.pending ?? [])];
  }

  onError(): void {
    this.failedSinceReady = true;
  }

  /** the error was the pooler's to handle (a stale plan it retries): the request is as if it never failed */
  forgetError(): void {
    this.failedSinceReady = false;
  }

  /**
   * A ReadyForQuery, with the note of the request it ends: that request's effects stand if no
   * error came and the transaction committed (or there was none); inside a block they wait for its
   * COMMIT, and a failed or rolled-back block drops them.
   */
  settle(note: readonly Noted[] | null, status: number): Settled {
    const failed = this.failedSinceReady;
    const blockHadFailed = this.txFailed;
    this.failedSinceReady = false;
    this.txFailed = status === TxStatus.Failed;
    if (note === null && this.txEffects.length === 0) return Settled.Nothing;
    if (failed || (blockHadFailed && status === TxStatus.Idle)) {
      if (status === TxStatus.Idle) this.txEffects = [];
      return Settled.Nothing;
    }
    let staged = this.txEffects;
    let committed = false;
    let resetAll = false;
    for (const effect of note ?? []) {
      if (effect.kind === 'commit') {
        resetAll = this.apply(staged) || resetAll;
        committed = true;
        staged = [];
      } else if (effect.kind === 'rollback') {
        staged = [];
      } else if (effect.kind !== 'begin' && effect.kind !== 'set_transaction') {
        if (staged === this.txEffects) staged = [...staged];
        staged.push(effect);
      }
    }
    if (status === TxStatus.Idle && staged.length > 0) {
      resetAll = this.apply(staged) || resetAll;
      committed = true;
      staged = [];
    }
    this.txEffects = staged;
    if (!committed) return Settled.Nothing;
    if (!this.session.pinned) this.endPin();
    return resetAll ? Settled.ResetAll : Settled.Applied;
  }

  /** the time the client spent pinned counts now (it unpinned, or is leaving) */
  endPin(): void {
    if (this.pinnedSince === 0) return;
    this.pool.stats.pinnedMs += clock.now - this.pinnedSince;
    this.pinnedSince = 0;
  }

  /** the link lost its server: what was in flight there is gone with it */
  forgetInFlight(): void {
    this.pending = null;
    this.txEffects = [];
    this.failedSinceReady = false;
    this.txFailed = false;
  }

  /**
   * Pins are taken at once (the server must not go to anyone else before the reply), the rest
   * waits in `pending`. Returns the refusal when session_state = error refuses the statement.
   */
  private note(verdicts: readonly StatementVerdict[]): PoolerError | null {
    if (this.refuses) {
      for (const verdict of verdicts) {
        const cause = verdict.opaque ? 'unknown' : (verdict.effects.find((effect) => effect.kind === 'pin')?.reason ?? null);
        if (cause !== null) return this.refusal(cause);
      }
    }
    for (const verdict of verdicts) {
      if (verdict.opaque) this.pin('unknown', null);
      for (const effect of verdict.effects) {
        if (effect.kind === 'pin') this.pin(effect.reason, effect.name);
        else (this.pending ??= []).push(effect);
      }
      // a COMMIT or ROLLBACK matters only when there are effects for it to keep or drop
      const tx = verdict.tx;
      if (tx !== null && (tx.kind === 'commit' || tx.kind === 'rollback') && (this.pending !== null || this.txEffects.length > 0)) {
        (this.pending ??= []).push(tx);
      }
    }
    return null;
  }

  private refusal(cause: PinCause): PoolerError {
    return new PoolerError(
      'SESSION_STATE_REFUSED',
      SqlState.featureNotSupported,
      `${PIN_WORDS[cause]} would tie this client to one server, which ${this.pool.mode} pooling does not do with session_state = error`,
      'ERROR',
      'set session_state = track_and_pin to keep such clients on their server, or use session pooling',
    );
  }

  private pin(cause: PinCause, name: string | null): void {
    const first = this.session.pin(cause, name);
    if (first === null) return;
    this.pinnedSince = clock.now;
    this.pool.onPinned(this.client.id, first, this.session.pinCount === 1);
  }

  /** commit effects to the session; true when they reset every setting */
  private apply(effects: readonly Noted[]): boolean {
    const sessionEffects = effects.filter((effect): effect is SessionEffect => effect.kind === 'set' || effect.kind === 'reset_all' || effect.kind === 'unpin' || effect.kind === 'pin');
    this.session.commit(sessionEffects);
    return sessionEffects.some((effect) => effect.kind === 'reset_all');
  }
}
