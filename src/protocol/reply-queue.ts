// The outstanding-request queue of one server connection: one entry per message the server (or the
// pooler in its place) still owes a reply to, in order, with what to do with that reply, and which
// reply ends which request. A ring of parallel arrays, so queuing allocates nothing.
import { BackendCode, FrontendCode } from './codes.js';

/** which request an entry stands for; its reply ends with the message noted */
export const Request = {
  Parse: 0, // ParseComplete
  Bind: 1, // BindComplete
  DescribeStatement: 2, // RowDescription or NoData (after ParameterDescription)
  DescribePortal: 3, // RowDescription or NoData
  Execute: 4, // CommandComplete, EmptyQueryResponse or PortalSuspended
  Close: 5, // CloseComplete
  Sync: 6, // ReadyForQuery
  Query: 7, // ReadyForQuery (Query and FunctionCall)
  /**
   * CopyDone or CopyFail: no reply of its own, but it marks where a COPY FROM STDIN ends, so the
   * Syncs before it are known to be ignored and those after it answered; dropped at the head
   */
  CopyEnd: 8,
} as const;
export type Request = (typeof Request)[keyof typeof Request];

/** what happens to the reply */
export const Action = {
  /** the client asked and gets the server's reply */
  Forward: 0,
  /** the pooler injected the request (Parse before Bind, eviction Close): the reply is dropped */
  Swallow: 1,
  /** nothing went to the server: the pooler sends `reply` when the entry reaches the head */
  Fake: 2,
  /** the server is made to fail here; its ErrorResponse is replaced by `reply` (the pooler's error) */
  ReplaceError: 3,
} as const;
export type Action = (typeof Action)[keyof typeof Action];

export const NOT_A_REQUEST = 255;
/** the request a client message stands for when sent as it is; NOT_A_REQUEST for those without a reply of their own (Flush, CopyData, Terminate) */
export const PLAIN_REQUESTS = new Uint8Array(256).fill(NOT_A_REQUEST);
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
export function endsRequest(request: Request, code: number): boolean {
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
 * `S` is what an entry carries for whoever queued it (the prepared statement it concerns), with
 * `effects`, bits that only they read: what the entry changed, to be undone if the server skips it.
 * `N` is a note the owner keeps with an entry until its reply (the session effects a request ends).
 */
export class ReplyQueue<S, N = never> {
  private capacity = 16;
  private start = 0;
  size = 0;
  private requests = new Uint8Array(this.capacity);
  private actions = new Uint8Array(this.capacity);
  private effects = new Uint8Array(this.capacity);
  private generations = new Uint32Array(this.capacity);
  private statements: (S | null)[] = new Array(this.capacity).fill(null);
  private names: (string | null)[] = new Array(this.capacity).fill(null);
  private replies: (Buffer | null)[] = new Array(this.capacity).fill(null);
  private notes: (N | null)[] = new Array(this.capacity).fill(null);

  push(
    request: Request,
    action: Action,
    effects = 0,
    statement: S | null = null,
    name: string | null = null,
    reply: Buffer | null = null,
    generation = 0,
    note: N | null = null,
  ): void {
    if (this.size === this.capacity) this.grow();
    const i = (this.start + this.size++) & (this.capacity - 1);
    this.requests[i] = request;
    this.actions[i] = action;
    this.effects[i] = effects;
    this.generations[i] = generation;
    this.statements[i] = statement;
    this.names[i] = name;
    this.replies[i] = reply;
    this.notes[i] = note;
  }

  /** ring index of the n-th entry from the head */
  index(n: number): number {
    return (this.start + n) & (this.capacity - 1);
  }

  request(i: number): Request {
    return this.requests[i] as Request;
  }
  action(i: number): Action {
    return this.actions[i] as Action;
  }
  effect(i: number): number {
    return this.effects[i]!;
  }
  generation(i: number): number {
    return this.generations[i]!;
  }
  statement(i: number): S | null {
    return this.statements[i]!;
  }
  name(i: number): string | null {
    return this.names[i]!;
  }
  reply(i: number): Buffer | null {
    return this.replies[i]!;
  }
  note(i: number): N | null {
    return this.notes[i]!;
  }

  /** drop the head entry */
  shift(): void {
    const i = this.start;
    this.statements[i] = null;
    this.names[i] = null;
    this.replies[i] = null;
    this.notes[i] = null;
    this.start = (this.start + 1) & (this.capacity - 1);
    this.size--;
  }

  /** drop the n-th entry from the head, keeping the order of the rest (rare: COPY's ignored Syncs) */
  removeAt(n: number): void {
    for (let k = n; k < this.size - 1; k++) this.copy(this.index(k + 1), this.index(k));
    const last = this.index(this.size - 1);
    this.statements[last] = null;
    this.names[last] = null;
    this.replies[last] = null;
    this.notes[last] = null;
    this.size--;
  }

  private copy(from: number, to: number): void {
    this.requests[to] = this.requests[from]!;
    this.actions[to] = this.actions[from]!;
    this.effects[to] = this.effects[from]!;
    this.generations[to] = this.generations[from]!;
    this.statements[to] = this.statements[from]!;
    this.names[to] = this.names[from]!;
    this.replies[to] = this.replies[from]!;
    this.notes[to] = this.notes[from]!;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const requests = new Uint8Array(capacity);
    const actions = new Uint8Array(capacity);
    const effects = new Uint8Array(capacity);
    const generations = new Uint32Array(capacity);
    const statements: (S | null)[] = new Array(capacity).fill(null);
    const names: (string | null)[] = new Array(capacity).fill(null);
    const replies: (Buffer | null)[] = new Array(capacity).fill(null);
    const notes: (N | null)[] = new Array(capacity).fill(null);
    for (let k = 0; k < this.size; k++) {
      const i = this.index(k);
      requests[k] = this.requests[i]!;
      actions[k] = this.actions[i]!;
      effects[k] = this.effects[i]!;
      generations[k] = this.generations[i]!;
      statements[k] = this.statements[i]!;
      names[k] = this.names[i]!;
      replies[k] = this.replies[i]!;
      notes[k] = this.notes[i]!;
    }
    this.capacity = capacity;
    this.start = 0;
    this.requests = requests;
    this.actions = actions;
    this.effects = effects;
    this.generations = generations;
    this.statements = statements;
    this.names = names;
    this.replies = replies;
    this.notes = notes;
  }
}
