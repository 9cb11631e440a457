// The Link: one logged-in client of a pool and the server it holds at the moment, if any. The only
// writer of what that server owes (the always-on reply queue), of COPY and request state and of the
// request times the stats read, and the only judge of whether the server may be released. Prepared
// statements, session state (session-tracker.ts) and stale-plan retries (stale-plan-retry.ts) hang off it.
import { clock } from '../clock.js';
import { Disposition } from '../net/packet-stream.js';
import { BackendCode, DescribeTarget, ErrorField, FrontendCode, HEADER_LENGTH, TxStatus } from '../protocol/codes.js';
import { decodeField } from '../protocol/decode.js';
import { Action, endsRequest, NOT_A_REQUEST, PLAIN_REQUESTS, ReplyQueue, Request } from '../protocol/reply-queue.js';
import { ClientStatements } from '../prepared/client-statements.js';
import { forgetsAllStatements, parseMessage, tampersWithStatements } from '../prepared/messages.js';
import { ServerStatements } from '../prepared/server-statements.js';
import type { SharedStatement } from '../prepared/statement-registry.js';
import { SqlState, type PoolerError } from '../errors.js';
import { errorResponseFor } from '../protocol/backend-messages.js';
import { queryMessage } from '../protocol/frontend-messages.js';
import type { SessionState } from './session-state.js';
import { SessionTracker, Settled, type Noted } from './session-tracker.js';
import { StalePlanRetry, type RetryingLink } from './stale-plan-retry.js';
import type { Listed, StateList } from '../state-list.js';
import type { ClientState, Pool, PoolClient } from './pool.js';
import type { PoolServer } from './pool-server.js';
import type { RoutedHost } from './host-router.js';
import { ReadSplit, Side } from './read-split.js';

/** "cached plan must not change result type": the server's copy of a statement went stale */
const STALE_PLAN = SqlState.featureNotSupported;

/** sent in place of a refused statement (session_state = error): the server fails it, and its error is replaced by the pooler's */
const REFUSED_QUERY = queryMessage('pooler refused this statement');
const REFUSED_PARSE = parseMessage(Buffer.alloc(0), Buffer.from('pooler refused this statement\0\0\0', 'latin1'));

export class Link implements Listed<Link>, RetryingLink {
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

  /** read_write_split: which side the client's transactions go to, and its read-your-writes position; null where reads are not split */
  readonly split: ReadSplit | null;
  /** the client's session state, followed through what it sends and what the server answers */
  private readonly tracker: SessionTracker;
  /** a stale shared plan met by a client whose Parse the pooler answered is retried (stale-plan-retry.ts) */
  private readonly staleRetry = new StalePlanRetry();

  constructor(
    readonly client: PoolClient,
    readonly pool: Pool,
    preparedCapacity: number,
  ) {
    this.statements = preparedCapacity > 0 && pool.mode !== 'session' ? new ClientStatements(client, this, pool.stats, preparedCapacity) : null;
    this.tracker = new SessionTracker(client, pool);
    this.split = pool.splitsReads ? new ReadSplit(this.statements) : null;
  }

  /** the client's settings and pins */
  get session(): SessionState {
    return this.tracker.session;
  }

  /** statements are classified for their session state or their route: Query and Parse texts must be read */
  get classifies(): boolean {
    return this.tracker.classifies || this.split !== null;
  }

  /** on a replica now, and every message sent there so far may run again on another host if it dies unanswered */
  get readRetryable(): boolean {
    return this.server !== null && this.split !== null && this.split.canRetry;
  }

  /** the transaction about to be sent goes to a replica: a read another host could answer instead */
  get routedToReplica(): boolean {
    return this.split !== null && this.split.side === Side.Replica;
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
    this.tracker.endPin();
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

  /**
   * The client holds a message back (Disposition.Hold). When the server owes nothing, no answer
   * will come to send it on: a message held for the primary on a replica (it came after the
   * replica had answered everything) goes once the server is released, which is now.
   */
  onHeld(): void {
    if (this.server !== null && !this.owesReplies && this.releasable && this.pool.mode !== 'session') this.pool.tryRelease(this);
  }

  // --- client messages (the client's PacketStream calls these through the client)

  /** a Query, Sync, FunctionCall, Execute, CopyDone or CopyFail, or with statements untracked any request */
  onHeader(code: number): Disposition {
    // on a replica, a message read no further than its header (a text too long to classify) is judged unsure
    if (this.offReplica(code, null, 0, 0)) return Disposition.Hold;
    return this.request(code);
  }

  /**
   * On a replica, a message that may not run there (split.allows): it waits for the replica's
   * answers to what came before, then the server is released and the message goes to the primary.
   * A client pinned to its replica stays there: the server answers as a standby does.
   */
  private offReplica(code: number, buffer: Buffer | null, offset: number, total: number): boolean {
    const split = this.split;
    return split !== null && split.side === Side.Replica && this.server !== null && !this.session.pinned && !split.allows(code, buffer, offset, total);
  }

  private request(code: number): Disposition {
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
    if (this.offReplica(code, buffer, offset, total)) return Disposition.Hold;
    const tracker = this.tracker;
    if (code === FrontendCode.Query) {
      const refusal = tracker.classifies ? tracker.noteQuery(buffer, offset, total) : null;
      return refusal === null ? this.request(code) : this.refuse(REFUSED_QUERY, Request.Query, offset, refusal);
    }
    if (code === FrontendCode.Parse && tracker.classifies) {
      const refusal = tracker.noteParse(buffer, offset, total);
      if (refusal !== null) return this.refuse(REFUSED_PARSE, Request.Parse, offset, refusal);
    }
    if (this.statements === null) return this.request(code);
    this.staleRetry.remember(code, buffer, offset, total, buffer[offset + HEADER_LENGTH] === DescribeTarget.Portal);
    if (code === FrontendCode.Execute) return this.request(code);
    const disposition = this.statements.onMessage(code, buffer, offset, total);
    if (disposition !== Disposition.Hold) this.beginExtended();
    return disposition;
  }

  /**
   * Send `probe` in the refused message's place: the server fails it where the statement stood (so
   * an open transaction fails as PostgreSQL's would, and an extended batch skips to Sync), and its
   * error is replaced by the pooler's.
   */
  private refuse(probe: Buffer, request: Request, at: number, error: PoolerError): Disposition {
    this.client.stream.inject(probe, at);
    this.push(request, Action.ReplaceError, 0, null, null, errorResponseFor(error));
    if (request === Request.Query) this.beginRequest();
    else this.beginExtended();
    return Disposition.Skip;
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
    const note = request === Request.Sync || request === Request.Query ? this.tracker.takePending() : null;
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
      if (this.staleRetry.pending && this.staleRetry.onReady(this, status, (error) => this.server!.stream.inject(error, offset))) return Disposition.Skip;
      const settled = this.tracker.settle(ends ? queue.note(head) : null, status);
      if (settled !== Settled.Nothing) {
        // the server ran what the client ran: it holds the client's settings now (after RESET ALL
        // or DISCARD ALL, its own defaults, which the next link puts right)
        const server = this.server!;
        server.applied = settled === Settled.ResetAll ? new Map() : this.session.snapshot();
        server.appliedKey = settled === Settled.ResetAll ? null : this.session.key;
      }
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
        this.split?.onIdle();
        // SHOW HOSTS' transactions and avg_xact_us, and least_response_time, for several hosts only
        if ((server.hostEntry !== null || server.route !== null) && this.xactStart !== 0) this.pool.transactionDone(server, clock.now - this.xactStart);
        this.xactStart = 0;
      }
    }
    this.client.onServerAnswered();
    if (this.server === server && this.releasable && this.pool.mode !== 'session') this.pool.tryRelease(this);
  }

  // --- what the stale-plan retry needs (RetryingLink)

  restoreNote(note: readonly Noted[] | null): void {
    // the retried batch decides whether the effects stand, as if the error had never come
    this.tracker.forgetError();
    this.tracker.restorePending(note);
  }

  sendToServer(bytes: Buffer): void {
    this.server!.socket.write(bytes);
  }

  countServerParse(): void {
    this.pool.stats.serverParses++;
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
    this.tracker.forgetInFlight();
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

  /** `buffer` is null for an error too long to read: it names no statement and is no stale plan */
  private onError(buffer: Buffer | null, offset: number, total: number): Disposition {
    this.tracker.onError();
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
      const statements = this.statements;
      if (request === Request.Bind && name !== null && statements !== null && this.staleRetry.catch(queue, statements, statement, name, buffer.subarray(offset, offset + total))) {
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
