// One console connection after login: reads whole messages and answers them itself, for the simple
// query protocol as PgBouncer does and — beyond PgBouncer — for the extended protocol, so drivers
// that always prepare (node-postgres with parameters, psycopg 3, Npgsql) can run SHOW commands.
import type { Socket } from 'node:net';
import { consoleError, PoolerError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import { errorResponseFor, readyForQueryIdle } from '../protocol/backend-messages.js';
import { BackendCode, DescribeTarget, FrontendCode } from '../protocol/codes.js';
import { WireWriter } from '../protocol/wire-writer.js';
import { runConsoleQuery, type ConsoleUser } from './commands.js';
import type { ConsoleContext } from './console-context.js';
import { parseConsoleQuery } from './grammar.js';
import { encodeResult, rowDescription, type ResultSet } from './result-set.js';

const PARSE_COMPLETE = new WireWriter(0).message(BackendCode.ParseComplete);
const BIND_COMPLETE = new WireWriter(0).message(BackendCode.BindComplete);
const CLOSE_COMPLETE = new WireWriter(0).message(BackendCode.CloseComplete);
const NO_DATA = new WireWriter(0).message(BackendCode.NoData);
const EMPTY_QUERY = new WireWriter(0).message(BackendCode.EmptyQueryResponse);

interface Portal {
  query: string;
  /** run at Describe so its RowDescription is exact; Execute then sends the rows */
  result: ResultSet | null;
}

/** a message body reader: C strings and big-endian integers from an offset */
class Reader {
  constructor(
    private readonly buffer: Buffer,
    private offset = 5,
  ) {}
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'unterminated string in message');
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }
  int16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  skip(length: number): void {
    this.offset += length;
  }
  byte(): number {
    return this.buffer[this.offset++]!;
  }
}

export interface ConsolePeer {
  readonly socket: Socket;
  readonly log: Logger;
  /** the client sent Terminate or broke the protocol: close it */
  close(reason: 'client_terminate' | 'protocol_error'): void;
}

export class ConsoleSession {
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  /** after an error in an extended-protocol batch, everything up to Sync is skipped */
  private skipping = false;
  /** messages are answered in order, even when a command (PAUSE, WAIT_CLOSE) takes time */
  private queue: Promise<void> = Promise.resolve();
  /** set while the client is not taking what we send: nothing more is read or answered until it drains */
  private drained: Promise<void> | null = null;

  constructor(
    private readonly peer: ConsolePeer,
    private readonly context: ConsoleContext,
    readonly user: ConsoleUser,
  ) {}

  /** a whole message, header included; it is copied because handling may wait */
  receive(message: Buffer): void {
    const copy = Buffer.from(message);
    this.queue = this.queue
      .then(() => this.drained)
      .then(() => this.handle(copy))
      .catch((error: unknown) => {
        this.peer.log.error({ err: error }, 'console message failed');
        this.peer.close('protocol_error');
      });
  }

  private send(...messages: Buffer[]): void {
    const socket = this.peer.socket;
    if (socket.destroyed) return;
    if (!socket.write(messages.length === 1 ? messages[0]! : Buffer.concat(messages))) this.waitForDrain(socket);
  }

  /**
   * A client that pipelines commands and never reads would otherwise have every answer held in
   * our memory: stop reading from it, and answer what was already read only once it drains.
   */
  private waitForDrain(socket: Socket): void {
    if (this.drained !== null) return;
    socket.pause();
    this.drained = new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        this.drained = null;
        if (!socket.destroyed) socket.resume();
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  private sendError(error: unknown): void {
    const e = error instanceof PoolerError ? error : consoleError((error as Error).message, SqlState.internalError);
    this.send(errorResponseFor(e));
  }

  private async handle(message: Buffer): Promise<void> {
    const code = message[0]!;
    if (code === FrontendCode.Terminate) return this.peer.close('client_terminate');
    if (code === FrontendCode.Query) return this.simpleQuery(new Reader(message).cstring());
    if (code === FrontendCode.Sync) {
      this.skipping = false;
      this.portals.delete('');
      return this.send(readyForQueryIdle);
    }
    if (this.skipping) return;
    try {
      await this.extended(code, new Reader(message));
    } catch (error) {
      this.skipping = true;
      this.sendError(error);
    }
  }

  private async simpleQuery(query: string): Promise<void> {
    if (query.trim() === '') return this.send(EMPTY_QUERY, readyForQueryIdle);
    try {
      const result = await runConsoleQuery(this.context, this.user, query);
      this.send(...encodeResult(result, true), readyForQueryIdle);
    } catch (error) {
      this.sendError(error);
      this.send(readyForQueryIdle);
    }
  }

  private async extended(code: number, reader: Reader): Promise<void> {
    switch (code) {
      case FrontendCode.Parse: {
        const name = reader.cstring();
        this.statements.set(name, reader.cstring());
        return this.send(PARSE_COMPLETE);
      }
      case FrontendCode.Bind: {
        const portal = reader.cstring();
        const query = this.statement(reader.cstring());
        const formats = reader.int16();
        reader.skip(formats * 2);
        const parameters = reader.int16();
        if (parameters > 0) throw consoleError('console commands take no parameters; put the value in the command text', SqlState.featureNotSupported);
        const resultFormats = reader.int16();
        for (let i = 0; i < resultFormats; i++) {
          if (reader.int16() !== 0) throw consoleError('the console sends text results only; ask for format 0', SqlState.featureNotSupported);
        }
        this.portals.set(portal, { query, result: null });
        return this.send(BIND_COMPLETE);
      }
      case FrontendCode.Describe: {
        const kind = reader.byte();
        const name = reader.cstring();
        if (kind === DescribeTarget.Statement) return this.describeStatement(this.statement(name));
        const portal = this.portal(name);
        portal.result ??= await runConsoleQuery(this.context, this.user, portal.query);
        return this.send(portal.result.columns === null ? NO_DATA : rowDescription(portal.result.columns));
      }
      case FrontendCode.Execute: {
        const portal = this.portal(reader.cstring());
        const result = portal.result ?? (await runConsoleQuery(this.context, this.user, portal.query));
        portal.result = null;
        return this.send(...encodeResult(result, false));
      }
      case FrontendCode.Close: {
        const kind = reader.byte();
        const name = reader.cstring();
        if (kind === DescribeTarget.Statement) this.statements.delete(name);
        else this.portals.delete(name);
        return this.send(CLOSE_COMPLETE);
      }
      case FrontendCode.Flush:
        return;
      default:
        throw consoleError(`unexpected message '${String.fromCharCode(code)}' on the console`, SqlState.protocolViolation);
    }
  }

  /** ParameterDescription (no parameters), then the columns: SHOW commands are run to learn them, nothing else is */
  private async describeStatement(query: string): Promise<void> {
    const parameterDescription = new WireWriter(2).int16(0).message(BackendCode.ParameterDescription);
    const parsed = parseConsoleQuery(query);
    if (parsed?.kind !== 'show') return this.send(parameterDescription, NO_DATA);
    const { columns } = await runConsoleQuery(this.context, this.user, query);
    this.send(parameterDescription, columns === null ? NO_DATA : rowDescription(columns));
  }

  private statement(name: string): string {
    const query = this.statements.get(name);
    if (query === undefined) throw consoleError(`prepared statement "${name}" does not exist`, SqlState.invalidSqlStatementName);
    return query;
  }

  private portal(name: string): Portal {
    const portal = this.portals.get(name);
    if (portal === undefined) throw consoleError(`portal "${name}" does not exist`, SqlState.invalidCursorName);
    return portal;
  }
}
