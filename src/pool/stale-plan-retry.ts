// A Bind of a shared statement that meets a stale plan ("cached plan must not change result type")
// for a client whose Parse the pooler answered: the client never had a plan of its own, and
// PostgreSQL would have planned its statement at that Parse, so the batch is sent again, prepared afresh.
import { FrontendCode, TxStatus } from '../protocol/codes.js';
import { syncMessage } from '../protocol/frontend-messages.js';
import { Action, Request, type ReplyQueue } from '../protocol/reply-queue.js';
import type { ClientStatements } from '../prepared/client-statements.js';
import { parseMessage, statementMessage } from '../prepared/messages.js';
import { Effect, type ServerStatements } from '../prepared/server-statements.js';
import type { SharedStatement } from '../prepared/statement-registry.js';
import type { Noted } from './session-tracker.js';

/** where one message lies in the chunk that carried it (chunks are never changed once read) */
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

/** a batch whose Bind met a stale plan, and what sending it again takes */
interface Caught {
  /** the server's error, for the client if the batch is not retried */
  error: Buffer;
  statement: SharedStatement;
  /** the client's name for the statement */
  name: string;
  bind: Buffer;
  describe: Buffer | null;
  execute: Buffer;
}

/** what the retry needs of the Link */
export interface RetryingLink {
  readonly queue: ReplyQueue<SharedStatement, readonly Noted[]>;
  readonly serverStatements: ServerStatements;
  push(request: Request, action: Action, effects?: number, statement?: SharedStatement | null, name?: string | null, reply?: Buffer | null, generation?: number): void;
  /** the retried batch decides whether its request's session effects stand */
  restoreNote(note: readonly Noted[] | null): void;
  /** write to the server now (it is waiting: everything before was answered) */
  sendToServer(bytes: Buffer): void;
  countServerParse(): void;
}

export class StalePlanRetry {
  /** the last Execute and Describe of a portal the client sent, as spans: no slice per message */
  private readonly lastExecute = new MessageSpan();
  private readonly lastDescribe = new MessageSpan();
  /** a Bind met a stale plan; whether it is retried waits for the ReadyForQuery after it */
  private caught: Caught | null = null;

  get pending(): boolean {
    return this.caught !== null;
  }

  /** a whole Execute, Bind or Describe on its way to the server */
  remember(code: number, buffer: Buffer, offset: number, total: number, describesPortal: boolean): void {
    if (code === FrontendCode.Execute) this.lastExecute.set(buffer, offset, total);
    // a Describe of the portal belongs to the batch of the Bind before it
    else if (code === FrontendCode.Bind) this.lastDescribe.clear();
    else if (code === FrontendCode.Describe && describesPortal) this.lastDescribe.set(buffer, offset, total);
  }

  /**
   * The Bind at the head of `queue` met a stale plan. Kept for a retry (true: the error is held
   * back) when the client's Parse was answered by the pooler, and the batch is that Bind, maybe a
   * Describe of its portal, an Execute and a Sync, the last thing the client sent, so sending them
   * again keeps the order of everything. A client whose own Parse made the plan gets PostgreSQL's
   * error, as it would direct.
   */
  catch(queue: RetryingLink['queue'], statements: ClientStatements, statement: SharedStatement, name: string, error: Buffer): boolean {
    if (!statements.answeredByPooler.has(name) || statements.lastBindMessage === null || this.lastExecute.empty) return false;
    let n = 1;
    if (n < queue.size && queue.request(queue.index(n)) === Request.DescribePortal) n++;
    if (n >= queue.size || queue.request(queue.index(n)) !== Request.Execute) return false;
    n++;
    if (n !== queue.size - 1 || queue.request(queue.index(n)) !== Request.Sync) return false;
    this.caught = {
      error: Buffer.from(error),
      statement,
      name,
      bind: statements.lastBindMessage,
      describe: this.lastDescribe.copy(),
      execute: this.lastExecute.copy() ?? Buffer.alloc(0),
    };
    return true;
  }

  /**
   * The ReadyForQuery after the error. Outside a transaction block, with nothing sent after the
   * batch, it is swallowed and Close, Parse, Bind, (Describe,) Execute, Sync go again, so the client
   * sees only the retried replies (true). Otherwise the held error goes to the client where it
   * stood, through `inject` (false).
   */
  onReady(link: RetryingLink, status: number, inject: (error: Buffer) => void): boolean {
    const caught = this.caught;
    this.caught = null;
    if (caught === null) return false;
    const queue = link.queue;
    if (status !== TxStatus.Idle || queue.size !== 1 || queue.request(queue.index(0)) !== Request.Sync) {
      inject(caught.error);
      return false;
    }
    const note = queue.note(queue.index(0));
    queue.shift();
    const { statement } = caught;
    const cache = link.serverStatements;
    const before = cache.generationOf(statement);
    cache.add(statement);
    link.push(Request.Close, Action.Swallow);
    link.push(Request.Parse, Action.Swallow, Effect.ServerAdd, statement, null, null, before);
    link.push(Request.Bind, Action.Forward, Effect.None, statement, caught.name);
    if (caught.describe !== null) link.push(Request.DescribePortal, Action.Forward);
    link.push(Request.Execute, Action.Forward, Effect.None, statement);
    link.restoreNote(note);
    link.push(Request.Sync, Action.Forward);
    const parts = [statementMessage(FrontendCode.Close, statement.serverName), parseMessage(statement.serverName, statement.body), caught.bind];
    if (caught.describe !== null) parts.push(caught.describe);
    parts.push(caught.execute, syncMessage);
    link.sendToServer(Buffer.concat(parts));
    link.countServerParse();
    return true;
  }
}
