// The Link: one logged-in client of a pool and the server it holds at the moment, if any. The only
// writer of what that server owes (the always-on reply queue), of COPY and request state and of the
// request times the stats read, and the only judge of whether the server is quiet enough to release.
import { clock } from '../clock.js';
import { Disposition } from '../net/packet-stream.js';
import { BackendCode, DescribeTarget, ErrorField, FrontendCode, HEADER_LENGTH, TxStatus } from '../protocol/codes.js';
import { decodeField } from '../protocol/decode.js';
import { Action, endsRequest, NOT_A_REQUEST, PLAIN_REQUESTS, ReplyQueue, Request } from '../protocol/reply-queue.js';
import { ClientStatements } from '../prepared/client-statements.js';
import { forgetsAllStatements, tampersWithStatements } from '../prepared/messages.js';
import { ServerStatements } from '../prepared/server-statements.js';
import type { SharedStatement } from '../prepared/statement-registry.js';
import { PoolerError, SqlState } from '../errors.js';
import { errorResponseFor } from '../protocol/backend-messages.js';
import { cstringEnd, parseMessage, statementMessage } from '../prepared/messages.js';
import { Effect } from '../prepared/server-statements.js';
import { queryMessage, syncMessage } from '../protocol/frontend-messages.js';
import { classify, classifyRepeated, type SessionEffect, type StatementVerdict, type TxControl } from '../sql/index.js';
import { SessionState, type PinCause } from './session-state.js';
import type { Listed, StateList } from '../state-list.js';
import type { ClientState, Pool, PoolClient } from './pool.js';
import type { PoolServer } from './pool-server.js';
import type { RoutedHost } from './host-router.js';

/** "cached plan must not change result type": the server's copy of a statement went stale */
const STALE_PLAN = SqlState.featureNotSupported;

/** what a request did to session state, kept with its Sync or Query in the queue until the reply says whether it stands */
type Noted = SessionEffect | TxControl;

/** where one message lies in the chunk that carried it */
class MessageSpan {
  private buffer: Buffer | null = null;
  private offset = 0;
  private total = 0;

  set(buffer: Buffer, offset: number, total: number): void {
    this.buffer = buffer;
    this.offset = offset;
    this.total = total;
  }

  clear(): void {
    this.buffer = null;
  }

  get empty(): boolean {
    return this.buffer === null;
  }

  copy(): Buffer | null {
    return this.buffer === null ? null : Buffer.from(this.buffer.subarray(this.offset, this.offset + this.total));
  }
}

/** a batch whose Bind met a stale plan (0A000), and what sending it again takes */
interface StaleRetry {
  /** the server's error, for the client if the batch is not retried */
  error: Buffer;
  statement: SharedStatement;
  /** the client's name for the statement */
  name: string;
  bind: Buffer;
  describe: Buffer | null;
  execute: Buffer;
}

/** sent in place of a refused statement (session_state = error): the server fails it, and its error is replaced by the pooler's */
const REFUSED_QUERY = queryMessage('pooler refused this statement');
const REFUSED_PARSE = parseMessage(Buffer.alloc(0), Buffer.from('pooler refused this statement\0\0\0', 'latin1'));

/** how an error names what would pin the client */
const PIN_WORDS: Record<PinCause, string> = {
  temp_table: 'a temporary table',
  listen: 'LISTEN',
  advisory_lock: 'a session advisory lock',
  prepare: 'a SQL-level PREPARE',
  with_hold_cursor: 'a cursor WITH HOLD',
  set_role: 'SET ROLE / SET SESSION AUTHORIZATION',
  load: 'LOAD',
  unknown: 'a statement whose effect on the session cannot be known (a DO block, a computed set_config)',
};

export class Link implements Listed<Link> {
  // the pool's client lists
  list: StateList<Link> | null = null;
  prev: Link | null = null;
  next: Link | null = null;
  state: ClientState = 'waiting_login';
  /** when the client started waiting for a server (or for the pool's first login) */
  waitStart = 0;

  server: PoolServer | null = null;
  /** what the linked server still owes, in order; empty whenever the link has no server */
  readonly queue = new ReplyQueue<SharedStatement, readonly Noted[]>();
  /** the client's named statements (transaction and statement mode, max_prepared_statements > 0) */
  readonly statements: ClientStatements | null;

  /** when the client's current request was sent (query_timeout, query_time); 0 when none is outstanding */
  requestStart = 0;
  /** when the current transaction's first request was sent (xact_time); 0 outside a transaction */
  xactStart = 0;
  /** host pools: the host the balancer chose for this client while it waits for a server */
  route: RoutedHost | null = null;
  /** an error emptied the queue before any Sync: the server ignores everything until the next one */
  private discardUntilSync = false;
  /** the server is in COPY FROM STDIN, waiting for the client's CopyData */
  private copyIn = false;
  /**
   * The client's last Query or Execute may start a COPY FROM STDIN, and it has sent no CopyDone,
   * CopyFail or other message since: a Sync it sends while the server is in that COPY is ignored
   * there, so it is not queued.
   */
  private copyMayBeOpen = false;
  /** Syncs the current COPY FROM STDIN was counted to ignore */
  private syncsIgnoredByCopy = 0;
  /** an extended-protocol batch is open (a message since the last Sync): its next message starts no new request for the stats */
  private unsynced = false;

  /** the client's settings and pins (transaction and statement mode follow them; session mode replays its startup settings once) */
  readonly session: SessionState;
  /** statements are classified for their session state: transaction and statement mode, unless session_state = ignore */
  readonly classifies: boolean;
  /** session_state = error: a statement that would pin is refused */
  private readonly refuses: boolean;
  /** session effects of what was sent since the last Sync or Query, until that goes into the queue */
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
   * The last Execute and Describe of a portal the client sent (statements rewritten), as where they
   * lie in the chunk that carried them (no slice made per message): a stale-plan retry sends them
   * again. Chunks are never changed once read, so holding one is safe.
   */
  private readonly lastExecute = new MessageSpan();
  private readonly lastDescribe = new MessageSpan();
  /** a Bind met a stale plan; whether it is retried waits for the ReadyForQuery after it */
  private staleRetry: StaleRetry | null = null;

  constructor(
    readonly client: PoolClient,
    readonly pool: Pool,
    preparedCapacity: number,
  ) {
    this.statements = preparedCapacity > 0 && pool.mode !== 'session' ? new ClientStatements(client, this, pool.stats, preparedCapacity) : null;
    this.session = new SessionState(client.startupSettings, client.trackedParameterNames);
    const mode = pool.sessionStateMode;
    this.classifies = pool.mode !== 'session' && mode !== 'ignore';
    this.refuses = mode === 'error';
  }

  // --- what the client sees

  /** the server may go back to the pool now: it is quiet and the client holds no state there that cannot move */
  get releasable(): boolean {
    return this.quiet && !this.session.pinned;
  }

  get pinned(): boolean {
    return this.session.pinned;
  }

  get pinReason(): string {
    return this.session.pinReason;
  }

  /** nothing is owed and no transaction is open: the server may be released (or there is none) */
  get quiet(): boolean {
    const server = this.server;
    return server === null || (server.txStatus === TxStatus.Idle && !this.copyIn && this.queue.size === 0 && !this.discardUntilSync);
  }

  /** a request sent is not answered yet */
  get owesReplies(): boolean {
    return this.queue.size > 0 || this.discardUntilSync;
  }

  get serverId(): number | null {
    return this.server?.id ?? null;
  }

  get preparedStatementCount(): number {
    return this.statements?.names.size ?? 0;
  }

  /** the client has something to send and no server */
  requestServer(): void {
    this.pool.requestServer(this);
  }

  /** a CancelRequest carried this client's key: it goes on to the server, if there is one */
  cancel(): void {
    this.pool.cancel(this);
  }

  /** the client is gone; its server goes back to the pool or closes */
  close(): void {
    this.endPin();
    this.statements?.release();
    this.pool.removeClient(this);
  }

  /**
   * A client holding no server sent just Parse + Sync of a statement some server already parsed:
   * answered without a server (see ClientStatements.answerWithoutServer).
   */
  answerWithoutServer(chunk: Buffer): boolean {
    return this.statements !== null && this.statements.answerWithoutServer(chunk);
  }

  /** the client's socket drained: read the server again, and a release that waited for that may go */
  onClientDrained(): void {
    const server = this.server;
    if (server === null) return;
    server.resumeReading();
    this.pool.onClientDrained(this);
  }

  // --- client messages (the client's PacketStream calls these through the client)

  /** a Query, Sync, FunctionCall, Execute, CopyDone or CopyFail, or with statements untracked any request */
  onHeader(code: number): Disposition {
    // A Sync that reaches a server in COPY FROM STDIN is ignored there: nothing is owed for it.
    if (code === FrontendCode.Sync && this.copyIn && this.copyMayBeOpen) return Disposition.Forward;
    if (this.statements !== null) {
      if (this.statements.onHeader(code) === Disposition.Skip) return Disposition.Skip;
    } else {
      const request = PLAIN_REQUESTS[code]!;
      if (request !== NOT_A_REQUEST) this.push(request as Request, Action.Forward);
    }
    switch (code) {
      case FrontendCode.Query:
        this.copyMayBeOpen = true;
        this.beginRequest();
        break;
      case FrontendCode.Sync:
      case FrontendCode.FunctionCall:
        if (code === FrontendCode.FunctionCall) this.copyMayBeOpen = false;
        this.unsynced = false;
        if (this.requestStart === 0) this.beginRequest();
        break;
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        this.copyIn = false;
        this.copyMayBeOpen = false;
        break;
      case FrontendCode.Execute:
        this.beginExtended();
        this.copyMayBeOpen = true;
        break;
      default:
        this.beginExtended();
    }
    return Disposition.Forward;
  }

  /** a whole Query or Parse (read for session state), or Parse, Bind, Describe or Close (read because statements are rewritten) */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    if (code === FrontendCode.Query) {
      const sql = buffer.toString('utf8', offset + HEADER_LENGTH, offset + total - 1);
      if (this.classifies && this.noteSession(classify(sql))) return this.refuse(REFUSED_QUERY, Request.Query, offset);
      return this.onHeader(code);
    }
    if (code === FrontendCode.Parse && this.classifies) {
      const end = offset + total;
      const nameEnd = cstringEnd(buffer, offset + HEADER_LENGTH, end);
      const textEnd = nameEnd < 0 ? -1 : cstringEnd(buffer, nameEnd + 1, end);
      if (textEnd > nameEnd && this.noteSession(classifyRepeated(buffer.toString('utf8', nameEnd + 1, textEnd)))) return this.refuse(REFUSED_PARSE, Request.Parse, offset);
    }
    if (this.statements === null) return this.onHeader(code);
    if (code === FrontendCode.Execute) {
      this.lastExecute.set(buffer, offset, total);
      return this.onHeader(code);
    }
    // a Describe of the portal belongs to the batch of the Bind before it
    if (code === FrontendCode.Bind) this.lastDescribe.clear();
    else if (code === FrontendCode.Describe && buffer[offset + HEADER_LENGTH] === DescribeTarget.Portal) this.lastDescribe.set(buffer, offset, total);
    const disposition = this.statements.onMessage(code, buffer, offset, total);
    if (disposition !== Disposition.Hold) this.beginExtended();
    return disposition;
  }

  /**
   * What a statement text does to the session: pins are taken at once (the server must not go to
   * anyone else before the reply), the rest waits in `pending` for the reply that says whether it
   * stands. True when session_state = error refuses it.
   */
  private noteSession(verdicts: readonly StatementVerdict[]): boolean {
    if (this.refuses) {
      for (const verdict of verdicts) {
        const cause = verdict.opaque ? 'unknown' : (verdict.effects.find((effect) => effect.kind === 'pin')?.reason ?? null);
        if (cause !== null) {
          this.refusal = new PoolerError(
            'SESSION_STATE_REFUSED',
            SqlState.featureNotSupported,
            `${PIN_WORDS[cause]} would tie this client to one server, which ${this.pool.mode} pooling does not do with session_state = error`,
            'ERROR',
            'set session_state = track_and_pin to keep such clients on their server, or use session pooling',
          );
          return true;
        }
      }
    }
    for (const verdict of verdicts) {
      if (verdict.opaque) this.takePin('unknown', null);
      for (const effect of verdict.effects) {
        if (effect.kind === 'pin') this.takePin(effect.reason, effect.name);
        else (this.pending ??= []).push(effect);
      }
      // a COMMIT or ROLLBACK matters only when there are effects for it to keep or drop
      const tx = verdict.tx;
      if (tx !== null && (tx.kind === 'commit' || tx.kind === 'rollback') && (this.pending !== null || this.txEffects.length > 0)) {
        (this.pending ??= []).push(tx);
      }
    }
    return false;
  }

  /** the error a refused statement gets, between noteSession and refuse */
  private refusal: PoolerError | null = null;

  /**
   * Send `probe` in the refused message's place: the server fails it where the statement stood (so
   * an open transaction fails as PostgreSQL's would, and an extended batch skips to Sync), and its
   * error is replaced by the pooler's.
   */
  private refuse(probe: Buffer, request: Request, at: number): Disposition {
    const error = this.refusal!;
    this.refusal = null;
    this.client.stream.inject(probe, at);
    this.push(request, Action.ReplaceError, 0, null, null, errorResponseFor(error));
    if (request === Request.Query) this.beginRequest();
    else this.beginExtended();
    return Disposition.Skip;
  }

  private takePin(cause: PinCause, name: string | null): void {
    const first = this.session.pin(cause, name);
    if (first === null) return;
    this.pinnedSince = clock.now;
    this.pool.onPinned(this, first);
  }

  /** Parse, Bind, Describe, Execute, Close: the first one since a Sync starts a request for the stats */
  private beginExtended(): void {
    // Parse, Bind, Describe and Close sent during a COPY end it with an error: later Syncs are answered
    this.copyMayBeOpen = false;
    if (!this.unsynced) {
      this.unsynced = true;
      this.beginRequest();
    }
  }

  /** a query (simple, or an extended batch up to Sync) starts: it counts, and its times start */
  private beginRequest(): void {
    const now = clock.now;
    this.requestStart = now;
    if (this.xactStart === 0) this.xactStart = now;
    this.pool.stats.countQuery();
  }

  // --- the queue (prepared/ queues its rewritten requests through these)

  push(request: Request, action: Action, effects = 0, statement: SharedStatement | null = null, name: string | null = null, reply: Buffer | null = null, generation = 0): void {
    const queue = this.queue;
    let note: readonly Noted[] | null = null;
    if (this.pending !== null && (request === Request.Sync || request === Request.Query)) {
      note = this.pending;
      this.pending = null;
    }
    queue.push(request, action, effects, statement, name, reply, generation, note);
    if (this.discardUntilSync) {
      if (request === Request.Sync) {
        this.discardUntilSync = false;
      } else {
        // the server skips this message: nothing will answer it, and what it changed did not happen
        this.undo(queue.index(queue.size - 1));
        queue.removeAt(queue.size - 1);
        return;
      }
    }
    if (request === Request.CopyEnd) this.dropCopyEnds();
    if (queue.size === 1 && action === Action.Fake) this.sendFakes(null, 0);
  }

  /** the linked server's prepared statements, made when a client first needs them there */
  get serverStatements(): ServerStatements {
    const server = this.server!;
    server.statements ??= new ServerStatements();
    return server.statements;
  }

  /**
   * How the server would answer a Parse of a statement it already has, read now: 'ok' when it
   * certainly succeeds (the pooler may answer it), 'fails' when its transaction has failed (25P02),
   * 'unknown' while a ReadyForQuery still to come will say what the transaction is then.
   */
  parseOutcome(): 'ok' | 'fails' | 'unknown' {
    const queue = this.queue;
    for (let n = 0; n < queue.size; n++) {
      const request = queue.request(queue.index(n));
      if (request === Request.Sync || request === Request.Query) return 'unknown';
    }
    return this.server!.txStatus === TxStatus.Failed || this.discardUntilSync ? 'fails' : 'ok';
  }

  /**
   * Whether the client's `name` was added or removed by a request the server has not answered yet,
   * with a Sync after it: whether that change stands depends on replies still to come (an error
   * before the Sync undoes it), and PostgreSQL judges the next use of the name only after them.
   */
  nameUndecided(name: string): boolean {
    const queue = this.queue;
    let pending = false;
    for (let n = 0; n < queue.size; n++) {
      const i = queue.index(n);
      if (pending && queue.request(i) === Request.Sync) return true;
      if (queue.name(i) === name && this.statements!.changesName(queue.effect(i))) pending = true;
    }
    return false;
  }

  // --- server replies (PoolServer calls these)

  /**
   * The server started COPY FROM STDIN for the request at the head (an Execute or a Query): it
   * ignores the Syncs the client sent after that request until the COPY ends (CopyDone, CopyFail,
   * or any other message, which fails it); they stand right behind the head. Syncs after that end
   * are answered.
   */
  onCopyIn(): void {
    this.copyIn = true;
    const queue = this.queue;
    let ignored = 0;
    const head = queue.size === 0 ? NOT_A_REQUEST : queue.request(queue.index(0));
    if (head === Request.Execute || head === Request.Query) {
      while (queue.size > 1 && queue.request(queue.index(1)) === Request.Sync) {
        queue.removeAt(1);
        ignored++;
      }
    }
    this.syncsIgnoredByCopy = ignored;
  }

  /** a reply to the client's traffic, before it is forwarded; `buffer` is null for an ErrorResponse too long to read */
  onReply(code: number, buffer: Buffer | null, offset: number, total: number): Disposition {
    if (code === BackendCode.ErrorResponse) return this.onError(buffer, offset, total);
    if (code === BackendCode.ReadyForQuery) {
      this.copyIn = false;
      this.syncsIgnoredByCopy = 0;
      const queue = this.queue;
      const head = queue.size > 0 ? queue.index(0) : -1;
      const ends = head >= 0 && (queue.request(head) === Request.Sync || queue.request(head) === Request.Query);
      const status = buffer![offset + HEADER_LENGTH]!;
      if (this.staleRetry !== null && this.onStaleRetry(status, offset)) return Disposition.Skip;
      this.settleSession(ends ? queue.note(head) : null, status);
    } else if (code === BackendCode.CommandComplete) {
      this.onCommandComplete(buffer!, offset, total);
    }
    const queue = this.queue;
    if (queue.size === 0) return Disposition.Forward;
    const head = queue.index(0);
    if (!endsRequest(queue.request(head), code)) return Disposition.Forward;
    const swallow = queue.action(head) === Action.Swallow;
    if (code === BackendCode.ParseComplete) queue.statement(head)?.markParsed();
    queue.shift();
    this.dropCopyEnds();
    if (queue.size === 0 || queue.action(queue.index(0)) !== Action.Fake) return swallow ? Disposition.Skip : Disposition.Forward;
    // the pooler's replies go right after this one: send it now, then them
    if (!swallow) this.server!.stream.inject(buffer!.subarray(offset, offset + total), offset);
    this.sendFakes(buffer, offset);
    return Disposition.Skip;
  }

  /**
   * The server answered up to a ReadyForQuery and the chunk carrying it has been forwarded: a
   * request that is fully answered ends for the stats, the client may send what it held for this,
   * and outside session mode a quiet server goes back to the pool.
   */
  onReadyForQuery(): void {
    const server = this.server!;
    if (!this.owesReplies) {
      const idle = server.txStatus === TxStatus.Idle;
      this.pool.stats.countRequestEnd(this, idle);
      this.requestStart = 0;
      if (idle) {
        // SHOW HOSTS' transactions and avg_xact_us, and least_response_time, for several hosts only
        if (server.hostEntry !== null && this.xactStart !== 0) this.pool.transactionDone(server, clock.now - this.xactStart);
        this.xactStart = 0;
      }
    }
    this.client.onServerAnswered();
    if (this.server === server && this.releasable && this.pool.mode !== 'session') this.pool.tryRelease(this);
  }

  // --- linking

  /** the pool gives this client `server` */
  attach(server: PoolServer): void {
    this.session.onNewServer();
    this.server = server;
    server.link = this;
    if (this.statements !== null) this.serverStatements.client = this.statements;
  }

  /** the pool takes the server back (or it closed); what it owed dies with the link to it */
  detach(): void {
    const server = this.server;
    if (server === null) return;
    if (server.statements !== null && server.statements.client === this.statements) server.statements.client = null;
    server.link = null;
    this.server = null;
    this.xactStart = 0;
    this.requestStart = 0;
    this.unsynced = false;
    this.copyIn = false;
    this.copyMayBeOpen = false;
    this.syncsIgnoredByCopy = 0;
    this.discardUntilSync = false;
    while (this.queue.size > 0) this.queue.shift();
    this.pending = null;
    this.txEffects = [];
    this.failedSinceReady = false;
    this.txFailed = false;
  }

  // --- internals

  /** DISCARD ALL or DEALLOCATE ALL ran, or SQL-level PREPARE/DEALLOCATE touched the shared statements */
  private onCommandComplete(buffer: Buffer, offset: number, total: number): void {
    const server = this.server!;
    if (server.statements === null) return;
    if (forgetsAllStatements(buffer, offset, total)) server.statements.forgetAll(true);
    // only where statements are shared: a session-mode client's PREPARE is its own business
    if (this.statements !== null && tampersWithStatements(buffer, offset, total)) {
      // Another statement may now stand under one of our names: prepare nothing more here, and
      // close the server rather than hand it to anyone else.
      server.closeNeeded = true;
      server.statements.forgetAll(false);
    }
  }

  /** a CopyEnd at the head owes nothing: the COPY it ended (if any) was accounted for */
  private dropCopyEnds(): void {
    const queue = this.queue;
    while (queue.size > 0 && queue.request(queue.index(0)) === Request.CopyEnd) queue.shift();
  }

  /** send the pooler's replies now at the head: into the server's stream while it is being read, else straight to the client */
  private sendFakes(buffer: Buffer | null, offset: number): void {
    const queue = this.queue;
    while (queue.size > 0) {
      const head = queue.index(0);
      if (queue.action(head) !== Action.Fake) return;
      const reply = queue.reply(head)!;
      queue.shift();
      if (buffer !== null) this.server!.stream.inject(reply, offset);
      else this.client.socket.write(reply);
    }
  }

  /**
   * A ReadyForQuery: the effects noted with the request it ends stand if no error came and the
   * transaction committed (or there was none); inside a block they wait for its COMMIT.
   */
  private settleSession(note: readonly Noted[] | null, status: number): void {
    const failed = this.failedSinceReady;
    const blockHadFailed = this.txFailed;
    this.failedSinceReady = false;
    this.txFailed = status === TxStatus.Failed;
    if (note === null && this.txEffects.length === 0) return;
    if (failed || (blockHadFailed && status === TxStatus.Idle)) {
      // what failed did not happen; a failed block's effects go when it ends
      if (status === TxStatus.Idle) this.txEffects = [];
      return;
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
    if (!committed) return;
    const server = this.server!;
    // the server ran what the client ran: it holds the client's settings now (after RESET ALL or
    // DISCARD ALL, its own defaults, which the next link puts right)
    server.applied = resetAll ? new Map() : this.session.snapshot();
    server.appliedKey = resetAll ? null : this.session.key;
    if (!this.session.pinned && this.pinnedSince > 0) {
      this.pool.stats.pinnedMs += clock.now - this.pinnedSince;
      this.pinnedSince = 0;
    }
  }

  /** commit effects to the session; true when they reset every setting */
  private apply(effects: readonly Noted[]): boolean {
    const sessionEffects = effects.filter((effect): effect is SessionEffect => effect.kind === 'set' || effect.kind === 'reset_all' || effect.kind === 'unpin' || effect.kind === 'pin');
    this.session.commit(sessionEffects);
    return sessionEffects.some((effect) => effect.kind === 'reset_all');
  }

  /**
   * A Bind of a shared statement met a stale plan ("cached plan must not change result type"). When
   * the pooler answered the client's Parse from the shared copy, the client never had a plan of its
   * own: PostgreSQL would have planned its statement at that Parse, after the change, so the batch
   * is retried. A client whose own Parse made the plan gets PostgreSQL's error, as it would direct.
   * Retried only when the batch is that Bind, maybe a Describe of its portal, an Execute and a Sync,
   * and the last thing the client sent, so resending them keeps the order of everything.
   */
  private mayRetry(name: string): boolean {
    const statements = this.statements;
    if (statements === null || !statements.answeredByPooler.has(name) || statements.lastBindMessage === null || this.lastExecute.empty) return false;
    const queue = this.queue;
    let n = 1;
    if (n < queue.size && queue.request(queue.index(n)) === Request.DescribePortal) n++;
    if (n >= queue.size || queue.request(queue.index(n)) !== Request.Execute) return false;
    n++;
    return n === queue.size - 1 && queue.request(queue.index(n)) === Request.Sync;
  }

  /**
   * The ReadyForQuery after a stale-plan error. Outside a transaction block, with nothing sent
   * after the batch, it is swallowed and the batch goes again with the statement prepared afresh,
   * so the client sees only the retried replies; otherwise the client gets PostgreSQL's error where
   * it stood. True when swallowed.
   */
  private onStaleRetry(status: number, offset: number): boolean {
    const retry = this.staleRetry!;
    this.staleRetry = null;
    const queue = this.queue;
    const server = this.server!;
    if (status !== TxStatus.Idle || queue.size !== 1 || queue.request(queue.index(0)) !== Request.Sync) {
      server.stream.inject(retry.error, offset);
      return false;
    }
    const note = queue.note(queue.index(0));
    queue.shift();
    this.failedSinceReady = false;
    const { statement } = retry;
    const cache = this.serverStatements;
    const before = cache.generationOf(statement);
    cache.add(statement);
    this.push(Request.Close, Action.Swallow);
    this.push(Request.Parse, Action.Swallow, Effect.ServerAdd, statement, null, null, before);
    this.push(Request.Bind, Action.Forward, Effect.None, statement, retry.name);
    if (retry.describe !== null) this.push(Request.DescribePortal, Action.Forward);
    this.push(Request.Execute, Action.Forward, Effect.None, statement);
    this.pending = note === null ? null : [...note];
    this.push(Request.Sync, Action.Forward);
    const parts = [statementMessage(FrontendCode.Close, statement.serverName), parseMessage(statement.serverName, statement.body), retry.bind];
    if (retry.describe !== null) parts.push(retry.describe);
    parts.push(retry.execute, syncMessage);
    server.socket.write(Buffer.concat(parts));
    this.pool.stats.serverParses++;
    return true;
  }

  /** the client is gone: the time it spent pinned counts */
  private endPin(): void {
    if (this.pinnedSince === 0) return;
    this.pool.stats.pinnedMs += clock.now - this.pinnedSince;
    this.pinnedSince = 0;
  }

  /** `buffer` is null for an error too long to read: it names no statement and is no stale plan */
  private onError(buffer: Buffer | null, offset: number, total: number): Disposition {
    this.failedSinceReady = true;
    // A COPY FROM STDIN that fails stops ignoring Syncs at a point the pooler cannot see: a Sync
    // counted as ignored may be answered after all, and that ReadyForQuery must reach no other client.
    if (this.copyIn && this.syncsIgnoredByCopy > 0) this.server!.closeNeeded = true;
    const queue = this.queue;
    if (queue.size === 0) return Disposition.Forward;
    const head = queue.index(0);
    const request = queue.request(head);
    let disposition: Disposition = Disposition.Forward;
    if (queue.action(head) === Action.ReplaceError) {
      this.server!.stream.inject(queue.reply(head)!, offset);
      disposition = Disposition.Skip;
    }
    // an error in a simple query or at Sync (a failed COMMIT) still ends with ReadyForQuery
    if (request === Request.Sync || request === Request.Query) return disposition;
    const statement = queue.statement(head);
    const name = queue.name(head);
    if (disposition === Disposition.Skip) {
      // replaced above
    } else if (buffer !== null && statement !== null && name !== null && queue.action(head) === Action.Forward) {
      const own = ClientStatements.errorWithClientName(buffer, offset, total, statement, name);
      if (own !== null) {
        this.server!.stream.inject(own, offset);
        disposition = Disposition.Skip;
      }
    }
    if (buffer !== null && statement !== null && decodeField(buffer.subarray(offset, offset + total), ErrorField.Code) === STALE_PLAN) {
      // every server's copy is as stale as this one: the next use anywhere prepares it afresh
      statement.generation++;
      if (request === Request.Bind && name !== null && this.mayRetry(name)) {
        this.staleRetry = {
          error: Buffer.from(buffer.subarray(offset, offset + total)),
          statement,
          name,
          bind: this.statements!.lastBindMessage!,
          describe: this.lastDescribe.copy(),
          execute: this.lastExecute.copy()!,
        };
        disposition = Disposition.Skip;
      }
    }
    // The server now skips everything up to Sync; undo, newest first, what those messages changed.
    let skipped = 0;
    while (skipped < queue.size && queue.request(queue.index(skipped)) !== Request.Sync) skipped++;
    for (let n = skipped - 1; n >= 0; n--) this.undo(queue.index(n));
    for (let n = 0; n < skipped; n++) queue.shift();
    this.dropCopyEnds();
    if (queue.size === 0) this.discardUntilSync = true;
    return disposition;
  }

  private undo(i: number): void {
    const queue = this.queue;
    const statement = queue.statement(i);
    if (statement === null || this.server === null) return;
    this.serverStatements.undo(queue.effect(i), statement, queue.name(i), queue.generation(i));
  }
}
