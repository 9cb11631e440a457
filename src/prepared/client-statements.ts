// One client's prepared statements in transaction and statement mode: its names mapped to shared
// statements, and the rewriting of its Parse, Bind, Describe and Close so the linked server sees
// the shared names, with a Parse injected first wherever the server lacks the statement.
// Unnamed statements and portals pass through untouched.
import { Disposition } from '../net/packet-stream.js';
import { errorResponseFor, readyForQueryIdle } from '../protocol/backend-messages.js';
import { DescribeTarget, FrontendCode, HEADER_LENGTH } from '../protocol/codes.js';
import { PoolerError, SqlState } from '../errors.js';
import {
  closeComplete,
  cstringEnd,
  parseComplete,
  parseMessage,
  refusedProbe,
  replaceName,
  statementMessage,
} from './messages.js';
import { Action, Request } from '../protocol/reply-queue.js';
import { Effect, type ServerStatements, type StatementClient } from './server-statements.js';
import { sharedStatements, type SharedStatement } from './statement-registry.js';

/** the counters SHOW STATS reports (DatabaseStats has them) */
export interface PreparedCounters {
  clientParses: number;
  serverParses: number;
  binds: number;
}

/** the client side the rewriting needs: its stream (to send to the server) and its socket */
export interface StatementOwner {
  readonly stream: { inject(message: Buffer, upTo: number): void };
  readonly socket: { write(data: Buffer): boolean };
}

/** where rewritten requests are queued for their replies: the client's Link (pool/link.ts) */
export interface StatementQueue {
  push(request: Request, action: Action, effects?: number, statement?: SharedStatement | null, name?: string | null, reply?: Buffer | null, generation?: number): void;
  /** see Link.nameUndecided */
  nameUndecided(name: string): boolean;
  /** see Link.parseOutcome */
  parseOutcome(): 'ok' | 'fails' | 'unknown';
  /** the linked server's prepared statements */
  readonly serverStatements: ServerStatements;
}

/** ParseComplete, then ReadyForQuery 'I': a client with no server is outside any transaction */
const parsedAndIdle = Buffer.concat([parseComplete, readyForQueryIdle]);

export class ClientStatements implements StatementClient {
  readonly names = new Map<string, SharedStatement>();
  /** the statement of the last named Bind: a stale-plan error at Execute is about it */
  private lastBound: SharedStatement | null = null;
  /**
   * names whose Parse the pooler answered from a statement some server already had: the client
   * never had a plan of its own, so a stale plan met through them is the shared copy's, not its own
   */
  readonly answeredByPooler = new Set<string>();
  /** the last named Bind as the server got it (the shared name in place): a stale-plan retry sends it again */
  lastBindMessage: Buffer | null = null;
  /** a message was refused: the rest of the pipeline up to Sync is skipped, as PostgreSQL does after an error */
  private skipping = false;

  constructor(
    private readonly owner: StatementOwner,
    private readonly queue: StatementQueue,
    private readonly counters: PreparedCounters,
    /** max_prepared_statements: the size of each server's cache */
    private readonly capacity: number,
  ) {}

  /** the client is gone: its names let go of their statements */
  release(): void {
    for (const statement of this.names.values()) sharedStatements.release(statement);
    this.names.clear();
  }

  /** whether a queued entry with these effects adds or removes one of the client's names */
  changesName(effects: number): boolean {
    return (effects & (Effect.ClientAdd | Effect.ClientRemove)) !== 0;
  }

  /**
   * An error that names the server-side statement ("bind message supplies 2 parameters, but
   * prepared statement "POOLER_3" requires 1") rebuilt with the client's name for it, or null if it
   * names none.
   */
  static errorWithClientName(buffer: Buffer, offset: number, total: number, statement: SharedStatement, clientName: string): Buffer | null {
    const text = buffer.toString('latin1', offset, offset + total);
    const quoted = `"${statement.serverName.toString('latin1')}"`;
    if (!text.includes(quoted)) return null;
    const own = Buffer.from(text.replaceAll(quoted, `"${Buffer.from(clientName).toString('latin1')}"`), 'latin1');
    own.writeUInt32BE(own.length - 1, 1);
    return own;
  }

  /**
   * A client holding no server sent just Parse + Sync (libpq's PQprepare, as pgbench -M prepared
   * does inside its run) of a text some server has already parsed: answer it here. Besides saving
   * a round trip, this keeps a single-threaded client that blocks on PQprepare from waiting for a
   * server that its own other connections hold in open transactions.
   */
  answerWithoutServer(chunk: Buffer): boolean {
    if (chunk.length < HEADER_LENGTH * 2 || chunk[0] !== FrontendCode.Parse) return false;
    const total = 1 + chunk.readUInt32BE(1);
    if (chunk.length !== total + HEADER_LENGTH || chunk[total] !== FrontendCode.Sync || chunk.readUInt32BE(total + 1) !== 4) return false;
    const nameEnd = cstringEnd(chunk, HEADER_LENGTH, total);
    if (nameEnd <= HEADER_LENGTH) return false;
    const name = chunk.toString('utf8', HEADER_LENGTH, nameEnd);
    if (this.names.has(name) || sharedStatements.find(chunk, nameEnd + 1, total)?.parsed !== true) return false;
    this.names.set(name, sharedStatements.acquire(chunk, nameEnd + 1, total));
    this.answeredByPooler.add(name);
    this.counters.clientParses++;
    this.owner.socket.write(parsedAndIdle);
    return true;
  }

  /** a message whose header was read (Query, Sync, FunctionCall, Execute, Copy*, Terminate) */
  onHeader(code: number): Disposition {
    if (this.skipping) {
      if (code !== FrontendCode.Sync && code !== FrontendCode.Terminate) return Disposition.Skip;
      this.skipping = false;
    }
    const queue = this.queue;
    switch (code) {
      case FrontendCode.Sync:
        queue.push(Request.Sync, Action.Forward);
        break;
      case FrontendCode.Query:
      case FrontendCode.FunctionCall:
        queue.push(Request.Query, Action.Forward);
        break;
      case FrontendCode.Execute:
        queue.push(Request.Execute, Action.Forward, Effect.None, this.lastBound);
        break;
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        queue.push(Request.CopyEnd, Action.Forward);
        break;
    }
    return Disposition.Forward;
  }

  /** a whole Parse, Bind, Describe or Close */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    if (this.skipping) return Disposition.Skip;
    const end = offset + total;
    switch (code) {
      case FrontendCode.Parse:
        return this.parse(buffer, offset, end);
      case FrontendCode.Bind:
        return this.bind(buffer, offset, total);
      case FrontendCode.Describe:
        return this.describeOrClose(Request.DescribeStatement, buffer, offset, total);
      case FrontendCode.Close:
        return this.describeOrClose(Request.Close, buffer, offset, total);
      default:
        return Disposition.Forward;
    }
  }

  private parse(buffer: Buffer, offset: number, end: number): Disposition {
    const queue = this.queue;
    const nameEnd = cstringEnd(buffer, offset + HEADER_LENGTH, end);
    if (nameEnd <= offset + HEADER_LENGTH) {
      // unnamed (or malformed, for the server to reject): passes through
      queue.push(Request.Parse, Action.Forward);
      return Disposition.Forward;
    }
    const name = buffer.toString('utf8', offset + HEADER_LENGTH, nameEnd);
    if (queue.nameUndecided(name)) return Disposition.Hold;
    // A Parse the pooler answers itself (a duplicate name, or a statement the server already has)
    // is answered as PostgreSQL would: which checks its transaction first, so this waits until the
    // server's transaction state is known.
    const known = sharedStatements.find(buffer, nameEnd + 1, end);
    const answeredHere = this.names.has(name) || (known !== undefined && queue.serverStatements.generationOf(known) === known.generation);
    const outcome = answeredHere ? queue.parseOutcome() : 'ok';
    if (outcome === 'unknown') return Disposition.Hold;
    this.counters.clientParses++;
    if (outcome === 'fails') {
      // PostgreSQL's answer in a failed transaction, at this point of the stream, without touching what the server has
      return this.refuse(offset, new PoolerError('IN_FAILED_TRANSACTION', SqlState.inFailedSqlTransaction, 'current transaction is aborted, commands ignored until end of transaction block', 'ERROR'));
    }
    if (this.names.has(name)) {
      return this.refuse(offset, new PoolerError('DUPLICATE_PREPARED_STATEMENT', SqlState.duplicatePreparedStatement, `prepared statement "${name}" already exists`, 'ERROR'));
    }
    // the lookup above already found it (one key built per Parse, not two)
    const statement = known ?? sharedStatements.acquire(buffer, nameEnd + 1, end);
    if (known !== undefined) sharedStatements.hold(known);
    this.names.set(name, statement);
    if (queue.serverStatements.has(statement)) {
      queue.push(Request.Parse, Action.Fake, Effect.ClientAdd, statement, name, parseComplete);
      this.answeredByPooler.add(name);
    } else {
      this.answeredByPooler.delete(name);
      this.prepare(queue, statement, offset, Action.Forward, Effect.ClientAdd, name);
    }
    return Disposition.Skip;
  }

  private bind(buffer: Buffer, offset: number, total: number): Disposition {
    const queue = this.queue;
    const end = offset + total;
    const portalEnd = cstringEnd(buffer, offset + HEADER_LENGTH, end);
    const nameStart = portalEnd + 1;
    const nameEnd = portalEnd < 0 ? -1 : cstringEnd(buffer, nameStart, end);
    if (nameEnd <= nameStart) {
      this.lastBound = null;
      this.lastBindMessage = null;
      queue.push(Request.Bind, Action.Forward);
      return Disposition.Forward;
    }
    const name = buffer.toString('utf8', nameStart, nameEnd);
    if (queue.nameUndecided(name)) return Disposition.Hold;
    this.counters.binds++;
    const statement = this.names.get(name);
    if (statement === undefined) return this.refuseUnknown(name, offset);
    this.ensurePrepared(queue, statement, offset);
    const rewritten = replaceName(buffer, offset, total, nameStart, nameEnd, statement.serverName);
    this.owner.stream.inject(rewritten, offset);
    queue.push(Request.Bind, Action.Forward, Effect.None, statement, name);
    this.lastBound = statement;
    this.lastBindMessage = rewritten;
    return Disposition.Skip;
  }

  /** Describe and Close look alike: a kind byte ('S' statement, 'P' portal), then a name */
  private describeOrClose(request: Request, buffer: Buffer, offset: number, total: number): Disposition {
    const queue = this.queue;
    const nameStart = offset + HEADER_LENGTH + 1;
    const nameEnd = cstringEnd(buffer, nameStart, offset + total);
    if (buffer[offset + HEADER_LENGTH] !== DescribeTarget.Statement || nameEnd <= nameStart) {
      const portal = request === Request.DescribeStatement && buffer[offset + HEADER_LENGTH] !== DescribeTarget.Statement;
      queue.push(portal ? Request.DescribePortal : request, Action.Forward);
      return Disposition.Forward;
    }
    const name = buffer.toString('utf8', nameStart, nameEnd);
    if (queue.nameUndecided(name)) return Disposition.Hold;
    const statement = this.names.get(name);
    if (request === Request.Close) {
      // Closing is answered here: the server keeps its copy for other clients. Closing an
      // unknown name is no error, as in PostgreSQL.
      if (statement === undefined) {
        queue.push(Request.Close, Action.Fake, Effect.None, null, null, closeComplete);
      } else {
        this.names.delete(name);
        sharedStatements.release(statement);
        queue.push(Request.Close, Action.Fake, Effect.ClientRemove, statement, name, closeComplete);
      }
      return Disposition.Skip;
    }
    if (statement === undefined) return this.refuseUnknown(name, offset);
    this.ensurePrepared(queue, statement, offset);
    this.owner.stream.inject(replaceName(buffer, offset, total, nameStart, nameEnd, statement.serverName), offset);
    queue.push(Request.DescribeStatement, Action.Forward, Effect.None, statement, name);
    return Disposition.Skip;
  }

  /** before a Bind or Describe: a Parse the client never sees the reply to, if the server lacks it */
  private ensurePrepared(queue: StatementQueue, statement: SharedStatement, upTo: number): void {
    if (!queue.serverStatements.has(statement)) this.prepare(queue, statement, upTo, Action.Swallow, Effect.None, null);
  }

  /** send a Parse of `statement` to the server, making room in its cache (or dropping a stale copy) first */
  private prepare(queue: StatementQueue, statement: SharedStatement, upTo: number, action: Action, effects: number, name: string | null): void {
    const stream = this.owner.stream;
    const server = queue.serverStatements;
    const before = server.generationOf(statement);
    if (before !== 0) {
      // a stale copy (the plan's result type changed): it goes before the fresh Parse
      stream.inject(statementMessage(FrontendCode.Close, statement.serverName), upTo);
      queue.push(Request.Close, Action.Swallow);
    } else {
      for (let victim = server.victim(this.capacity); victim !== null; victim = server.victim(this.capacity)) {
        stream.inject(statementMessage(FrontendCode.Close, victim.serverName), upTo);
        const generation = server.generationOf(victim);
        server.evict(victim);
        queue.push(Request.Close, Action.Swallow, Effect.ServerRemove, victim, null, null, generation);
      }
    }
    stream.inject(parseMessage(statement.serverName, statement.body), upTo);
    server.add(statement);
    queue.push(Request.Parse, action, Effect.ServerAdd | effects, statement, name, null, before);
    this.counters.serverParses++;
  }

  private refuseUnknown(name: string, offset: number): Disposition {
    return this.refuse(offset, new PoolerError('UNKNOWN_PREPARED_STATEMENT', SqlState.invalidSqlStatementName, `prepared statement "${name}" does not exist`, 'ERROR'));
  }

  /**
   * Answer with PostgreSQL's own error, at this point of the reply stream: the server is made to
   * fail here (so it skips to Sync and fails an open transaction), its error is replaced by ours,
   * and the rest of the client's pipeline up to Sync is dropped.
   */
  private refuse(upTo: number, error: PoolerError): Disposition {
    this.owner.stream.inject(refusedProbe, upTo);
    const reply = errorResponseFor(error);
    this.queue.push(Request.DescribeStatement, Action.ReplaceError, Effect.None, null, null, reply);
    this.skipping = true;
    return Disposition.Skip;
  }
}
