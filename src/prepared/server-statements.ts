// What one server connection still owes (the reply queue, for every request in every mode) and what
// it has prepared (an LRU of shared statements, max_prepared_statements long). Reads the server's
// replies before they are forwarded: swallows those to injected messages, sends the pooler's own replies (ParseComplete
// for a statement already there, CloseComplete) at their place in the stream, and on an error
// undoes what the server skipped up to Sync.
import { Disposition, Treat } from '../net/packet-stream.js';
import { SqlState } from '../errors.js';
import { BackendCode, ErrorField, FrontendCode, TxStatus } from '../protocol/codes.js';
import { decodeField } from '../protocol/decode.js';
import { forgetsAllStatements, tampersWithStatements } from './messages.js';
import { Action, Effect, ReplyQueue, Request } from './reply-queue.js';
import { sharedStatements, type SharedStatement } from './statement-registry.js';

/** the server connection as the cache needs it (server/ implements it; prepared/ does not import server/) */
export interface StatementHost {
  replyFilter: object | null;
  readonly stream: { inject(message: Buffer, upTo: number): void };
  /** the transaction status of the server's last ReadyForQuery */
  readonly txStatus: number;
  /** close when next released instead of reusing */
  closeNeeded: boolean;
}

/** the linked client as the cache needs it */
export interface StatementClient {
  readonly names: Map<string, SharedStatement>;
  /** write a reply straight to the client (nothing from the server is in flight before it) */
  reply(message: Buffer): void;
}

/**
 * the replies read whole while statements are tracked, on top of what the server reads itself
 * (ReadyForQuery; errors and notices up to MAX_INSPECTED_REPLY_LENGTH, a longer error arriving
 * with a null buffer): the ones that end a request
 */
const TREATS = {
  [BackendCode.ParseComplete]: Treat.Whole,
  [BackendCode.BindComplete]: Treat.Whole,
  [BackendCode.CloseComplete]: Treat.Whole,
  [BackendCode.NoData]: Treat.Whole,
  [BackendCode.RowDescription]: Treat.Whole,
  [BackendCode.CommandComplete]: Treat.Whole,
  [BackendCode.EmptyQueryResponse]: Treat.Whole,
  [BackendCode.PortalSuspended]: Treat.Whole,
};

const NOT_A_REQUEST = 255;
/** the request a client message code stands for, NOT_A_REQUEST for those without a reply of their own (Flush, CopyData) */
const PLAIN_REQUESTS = new Uint8Array(256).fill(NOT_A_REQUEST);
PLAIN_REQUESTS[FrontendCode.Parse] = Request.Parse;
PLAIN_REQUESTS[FrontendCode.Bind] = Request.Bind;
PLAIN_REQUESTS[FrontendCode.Describe] = Request.DescribePortal;
PLAIN_REQUESTS[FrontendCode.Close] = Request.Close;
PLAIN_REQUESTS[FrontendCode.Execute] = Request.Execute;
PLAIN_REQUESTS[FrontendCode.Sync] = Request.Sync;
PLAIN_REQUESTS[FrontendCode.Query] = Request.Query;
PLAIN_REQUESTS[FrontendCode.FunctionCall] = Request.Query;
PLAIN_REQUESTS[FrontendCode.CopyDone] = Request.CopyEnd;
PLAIN_REQUESTS[FrontendCode.CopyFail] = Request.CopyEnd;

/** does reply `code` end the reply to `request`? */
function ends(request: Request, code: number): boolean {
  switch (request) {
    case Request.Parse:
      return code === BackendCode.ParseComplete;
    case Request.Bind:
      return code === BackendCode.BindComplete;
    case Request.Close:
      return code === BackendCode.CloseComplete;
    case Request.DescribeStatement:
    case Request.DescribePortal:
      return code === BackendCode.RowDescription || code === BackendCode.NoData;
    case Request.Execute:
      return code === BackendCode.CommandComplete || code === BackendCode.EmptyQueryResponse || code === BackendCode.PortalSuspended;
    case Request.Sync:
    case Request.Query:
      return code === BackendCode.ReadyForQuery;
    case Request.CopyEnd:
      return false;
  }
}

/**
 * An error that names the server-side statement ("bind message supplies 2 parameters, but prepared
 * statement "POOLER_3" requires 1") rebuilt with the client's name for it, or null if it names none.
 */
function withClientName(buffer: Buffer, offset: number, total: number, serverName: Buffer, clientName: string): Buffer | null {
  const text = buffer.toString('latin1', offset, offset + total);
  const quoted = `"${serverName.toString('latin1')}"`;
  if (!text.includes(quoted)) return null;
  const own = Buffer.from(text.replaceAll(quoted, `"${Buffer.from(clientName).toString('latin1')}"`), 'latin1');
  own.writeUInt32BE(own.length - 1, 1);
  return own;
}

/** "cached plan must not change result type": the server's copy of a statement went stale */
const STALE_PLAN = SqlState.featureNotSupported;

export class ServerStatements {
  readonly treats = TREATS;
  readonly queue = new ReplyQueue();
  /** statement → the generation prepared on this server; Map order is the LRU order */
  private readonly cache = new Map<SharedStatement, number>();
  client: StatementClient | null = null;
  /** an error emptied the queue before any Sync: the server ignores everything until the next one */
  private discardUntilSync = false;

  constructor(private readonly host: StatementHost) {}

  /** the statements of a server, made when a client first needs them there */
  static of(host: StatementHost): ServerStatements {
    if (host.replyFilter instanceof ServerStatements) return host.replyFilter;
    const statements = new ServerStatements(host);
    host.replyFilter = statements;
    return statements;
  }

  get statementCount(): number {
    return this.cache.size;
  }

  /** nothing is owed: the server may be released */
  get idle(): boolean {
    // after an error with no Sync queued, the server discards everything until one comes: handed
    // to another client, it would swallow that client's messages
    return this.queue.size === 0 && !this.discardUntilSync;
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
    return this.host.txStatus === TxStatus.Failed || this.discardUntilSync ? 'fails' : 'ok';
  }

  /** prepared here, and not since gone stale; marks it recently used */
  has(statement: SharedStatement): boolean {
    const generation = this.cache.get(statement);
    if (generation !== statement.generation) return false;
    this.cache.delete(statement);
    this.cache.set(statement, generation);
    return true;
  }

  /** the generation prepared here (0: not here) */
  generationOf(statement: SharedStatement): number {
    return this.cache.get(statement) ?? 0;
  }

  /** the least recently used statement, when the cache holds `capacity` or more */
  victim(capacity: number): SharedStatement | null {
    if (this.cache.size < capacity) return null;
    return this.cache.keys().next().value ?? null;
  }

  /** a Parse of `statement` goes to this server now */
  add(statement: SharedStatement): void {
    if (!this.cache.has(statement)) sharedStatements.hold(statement);
    this.cache.delete(statement);
    this.cache.set(statement, statement.generation);
  }

  /** a Close of `statement` goes to this server now */
  evict(statement: SharedStatement): void {
    if (this.cache.delete(statement)) sharedStatements.release(statement);
  }

  push(request: Request, action: Action, effects = 0, statement: SharedStatement | null = null, name: string | null = null, reply: Buffer | null = null, generation = 0): void {
    const queue = this.queue;
    queue.push(request, action, effects, statement, name, reply, generation);
    if (this.discardUntilSync) {
      if (request === Request.Sync) {
        this.discardUntilSync = false;
      } else {
        // the server skips this message: nothing will answer it, and what it changed did not happen
        const last = queue.index(queue.size - 1);
        this.undo(last);
        queue.removeAt(queue.size - 1);
        return;
      }
    }
    if (request === Request.CopyEnd) this.dropCopyEnds();
    if (queue.size === 1 && action === Action.Fake) this.sendFakes(null, 0);
  }

  /**
   * The server started COPY FROM STDIN for the request at the head (an Execute or a Query): it
   * ignores the Syncs the client sent after that request until it ended the COPY (CopyDone,
   * CopyFail, or any other message, which fails it); they stand right behind the head. Syncs after
   * that end are answered.
   */
  onCopyIn(): number {
    const queue = this.queue;
    if (queue.size === 0) return 0;
    const head = queue.request(queue.index(0));
    if (head !== Request.Execute && head !== Request.Query) return 0;
    let ignored = 0;
    while (queue.size > 1 && queue.request(queue.index(1)) === Request.Sync) {
      queue.removeAt(1);
      ignored++;
    }
    return ignored;
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
      if (queue.name(i) === name && (queue.effect(i) & (Effect.ClientAdd | Effect.ClientRemove)) !== 0) pending = true;
    }
    return false;
  }

  /**
   * A client request sent as it is (no statement to rewrite): its reply is forwarded. This is how
   * every request is queued when prepared statements are not tracked (session mode,
   * max_prepared_statements = 0), so the queue alone says what the server still owes.
   */
  recordRequest(code: number): void {
    const request = PLAIN_REQUESTS[code]!;
    if (request !== NOT_A_REQUEST) this.push(request as Request, Action.Forward);
  }

  /** a CopyEnd at the head owes nothing: the COPY it ended (if any) was accounted for */
  private dropCopyEnds(): void {
    const queue = this.queue;
    while (queue.size > 0 && queue.request(queue.index(0)) === Request.CopyEnd) queue.shift();
  }

  /** a server reply; `internal` while the pooler runs its own query (reset, check, SET) */
  onReply(code: number, buffer: Buffer | null, offset: number, total: number, internal: boolean): Disposition {
    if (buffer === null) return internal ? Disposition.Forward : this.onError(null, offset, total);
    if (code === BackendCode.CommandComplete && forgetsAllStatements(buffer, offset, total)) this.forgetAll(!internal);
    // only where statements are shared: a session-mode client's PREPARE is its own business
    if (code === BackendCode.CommandComplete && !internal && this.client !== null && tampersWithStatements(buffer, offset, total)) {
      // Another statement may now stand under one of our names: prepare nothing more here, and
      // close the server rather than hand it to anyone else.
      this.host.closeNeeded = true;
      this.forgetAll(false);
    }
    if (internal) return Disposition.Forward;
    if (code === BackendCode.ErrorResponse) return this.onError(buffer, offset, total);
    const queue = this.queue;
    if (queue.size === 0) return Disposition.Forward;
    const head = queue.index(0);
    if (!ends(queue.request(head), code)) return Disposition.Forward;
    const swallow = queue.action(head) === Action.Swallow;
    if (code === BackendCode.ParseComplete) queue.statement(head)?.markParsed();
    queue.shift();
    this.dropCopyEnds();
    if (queue.size === 0 || queue.action(queue.index(0)) !== Action.Fake) return swallow ? Disposition.Skip : Disposition.Forward;
    // the pooler's replies go right after this one: send it now, then them
    if (!swallow) this.host.stream.inject(buffer.subarray(offset, offset + total), offset);
    this.sendFakes(buffer, offset);
    return Disposition.Skip;
  }

  /** release everything this server holds (it is closing) */
  close(): void {
    for (const statement of this.cache.keys()) sharedStatements.release(statement);
    this.cache.clear();
    this.client = null;
  }

  /** send the pooler's replies now at the head: into the server's stream while it is being read, else straight */
  private sendFakes(buffer: Buffer | null, offset: number): void {
    const queue = this.queue;
    while (queue.size > 0) {
      const head = queue.index(0);
      if (queue.action(head) !== Action.Fake) return;
      const reply = queue.reply(head)!;
      queue.shift();
      if (buffer !== null) this.host.stream.inject(reply, offset);
      else this.client?.reply(reply);
    }
  }

  /** `buffer` is null for an error too long to read: it names no statement and is no stale plan */
  private onError(buffer: Buffer | null, offset: number, total: number): Disposition {
    const queue = this.queue;
    if (queue.size === 0) return Disposition.Forward;
    const head = queue.index(0);
    const request = queue.request(head);
    // an error in a simple query or at Sync (a failed COMMIT) still ends with ReadyForQuery
    if (request === Request.Sync || request === Request.Query) return Disposition.Forward;
    let disposition: Disposition = Disposition.Forward;
    const statement = queue.statement(head);
    const name = queue.name(head);
    if (queue.action(head) === Action.ReplaceError) {
      this.host.stream.inject(queue.reply(head)!, offset);
      disposition = Disposition.Skip;
    } else if (buffer !== null && statement !== null && name !== null && queue.action(head) === Action.Forward) {
      const own = withClientName(buffer, offset, total, statement.serverName, name);
      if (own !== null) {
        this.host.stream.inject(own, offset);
        disposition = Disposition.Skip;
      }
    }
    if (buffer !== null && statement !== null && decodeField(buffer.subarray(offset, offset + total), ErrorField.Code) === STALE_PLAN) {
      // every server's copy is as stale as this one: the next use anywhere prepares it afresh
      statement.generation++;
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
    const effects = queue.effect(i);
    const statement = queue.statement(i);
    const name = queue.name(i);
    if (statement === null) return;
    if (effects & Effect.ClientAdd && this.client !== null && this.client.names.get(name!) === statement) {
      this.client.names.delete(name!);
      sharedStatements.release(statement);
    }
    if (effects & Effect.ClientRemove && this.client !== null) {
      sharedStatements.hold(statement);
      this.client.names.set(name!, statement);
    }
    if (effects & Effect.ServerAdd) {
      const before = queue.generation(i);
      if (before === 0) this.evict(statement);
      else this.cache.set(statement, before);
    }
    if (effects & Effect.ServerRemove && !this.cache.has(statement)) {
      sharedStatements.hold(statement);
      this.cache.set(statement, queue.generation(i));
    }
  }

  /** DISCARD ALL or DEALLOCATE ALL ran: the server has nothing prepared, nor (if it asked) the client */
  private forgetAll(client: boolean): void {
    for (const statement of this.cache.keys()) sharedStatements.release(statement);
    this.cache.clear();
    if (!client || this.client === null) return;
    for (const statement of this.client.names.values()) sharedStatements.release(statement);
    this.client.names.clear();
  }
}
