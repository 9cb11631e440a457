// One connection to PostgreSQL: connect, log in, remember its ParameterStatus values and cancel
// key, run the pooler's own queries (reset, check, SET), and forward replies to the linked client,
// showing each reply it reads to onReply first (the pool's Link judges what the server still owes).
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { clock } from '../clock.js';
import { PoolerError, SqlState, suggestsFailover, type DisconnectReason } from '../errors.js';
import { AuthCode, BackendCode, EncryptionAnswer, ErrorField, HEADER_LENGTH, MAX_INSPECTED_REPLY_LENGTH, MAX_SERVER_LOGIN_MESSAGE_LENGTH, TxStatus } from '../protocol/codes.js';
import { decodeDataRow, decodeField, decodeParameterStatus, decodeServerError } from '../protocol/decode.js';
import { queryMessage, sslRequest, startupMessage, terminateMessage } from '../protocol/frontend-messages.js';
import { describeCode, Disposition, PacketStream, Treat, treatTable, type PacketHandler } from '../net/packet-stream.js';
import { tlsRequired } from '../net/client-tls.js';
import { connect, describeTarget, isUnixHost } from '../net/connect.js';
import { tuneSocket, WriteStall, type TcpTuning } from '../net/socket-tuning.js';
import type { ServerTls } from '../net/server-tls.js';
import type { ScramClientKeys } from '../auth/scram-client.js';
import { ServerAuthenticator } from './server-auth.js';
import type { StateList } from '../state-list.js';

export type ServerState = 'login' | 'idle' | 'active' | 'used' | 'tested';

export interface ServerTarget {
  /** host name or IP; a path starting with '/' is a directory holding the Unix socket */
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | null;
  /** TLS to ask the server for (server_tls_sslmode), or null */
  tls: ServerTls | null;
  /** when `password` is a SCRAM secret: the keys a client's SCRAM login recovered (pass-through) */
  scramKeys: ScramClientKeys | null;
  startupParameters: Record<string, string>;
}

/** the linked client, as the server needs to see it */
export interface ServerPeer {
  readonly socket: Socket;
  /** the server reported a new value for a parameter while linked */
  onServerParameter(name: string, value: string): void;
  /** the server's socket can take writes again */
  onServerDrain(): void;
}

/** the pool, as the server reports to it */
export interface ServerOwner {
  onServerLogin(server: ServerConnection, error: PoolerError | null): void;
  /** a ReadyForQuery arrived for the client's traffic, and the chunk carrying it has been forwarded */
  onServerReadyForQuery(server: ServerConnection): void;
  onServerClosed(server: ServerConnection, reason: DisconnectReason, error: PoolerError | null): void;
  /** a bug met while reading this server: the server closes right after, and only it (and its client) */
  onServerFault?(server: ServerConnection, error: unknown): void;
  /** an ErrorResponse the linked client is about to get whose SQLSTATE suggests a failover (25006 from a server that became a replica) */
  onServerErrorReply?(server: ServerConnection, error: PoolerError): void;
}

type InternalDone = (error: PoolerError | null) => void;
type InternalRow = (columns: (string | null)[]) => void;

const LOGIN_TABLE = treatTable({
  [BackendCode.Authentication]: Treat.Whole,
  [BackendCode.ParameterStatus]: Treat.Whole,
  [BackendCode.BackendKeyData]: Treat.Whole,
  [BackendCode.ErrorResponse]: Treat.Whole,
  [BackendCode.ReadyForQuery]: Treat.Whole,
  [BackendCode.NoticeResponse]: Treat.Whole,
  [BackendCode.NegotiateProtocolVersion]: Treat.Whole,
});

/** errors, notices and parameters are read when short enough (MAX_INSPECTED_REPLY_LENGTH), else passed on unread */
const READ_TREATS = {
  [BackendCode.ReadyForQuery]: Treat.Whole,
  [BackendCode.ParameterStatus]: Treat.Capped,
  [BackendCode.ErrorResponse]: Treat.Capped,
  [BackendCode.NoticeResponse]: Treat.Capped,
};
/** after login: what is read, plus the start of COPY FROM STDIN (its Syncs get no ReadyForQuery) */
const WORK_TREATS = {
  ...READ_TREATS,
  [BackendCode.CopyInResponse]: Treat.Header,
  [BackendCode.CopyBothResponse]: Treat.Header,
};
const WORK_TABLE = treatTable(WORK_TREATS);

/** a work-phase table that also reads `treats` (a subclass's onReply wants them), over what the server must read itself */
export function workTableWith(treats: Readonly<Record<number, number>>): Uint8Array {
  return treatTable({ ...WORK_TREATS, ...treats });
}

/** while the pooler's own query wants its rows (auth_query): DataRow is read too */
const ROWS_TABLE = treatTable({ ...READ_TREATS, [BackendCode.DataRow]: Treat.Capped });

let nextServerId = 1;

export class ServerConnection implements PacketHandler {
  readonly id = nextServerId++;
  /** the TCP socket, or the TLS socket wrapped around it once the server accepted TLS */
  socket: Socket;
  readonly stream: PacketStream;
  state: ServerState = 'login';
  // StateList membership
  list: StateList<ServerConnection> | null = null;
  prev: ServerConnection | null = null;
  next: ServerConnection | null = null;

  /** the client this server is linked to */
  peer: ServerPeer | null = null;
  /** ParameterStatus values as the server last reported them */
  readonly parameters = new Map<string, string>();
  /**
   * A client parametersKey these parameters were last found to match, so the next client with the
   * same settings skips the comparison; any ParameterStatus clears it.
   */
  matchesParametersKey: string | null = null;
  processId = 0;
  secretKey = 0;
  readonly connectTime = clock.now;
  /** when the server was last linked or released (SHOW SERVERS request_time) */
  lastUsed = clock.now;
  /** when the last ReadyForQuery arrived (idle_transaction_timeout) */
  readyAt = 0;
  /** close when next released instead of reusing (RECONNECT, reload, lifetime) */
  closeNeeded = false;
  /**
   * Statement mode: a ReadyForQuery that reports a transaction block ends the linked client,
   * judged at that message, so the verdict never depends on how replies were cut into chunks.
   */
  forbidTransactions = false;
  /** server_check_query just succeeded: hand it out without checking again (server_check_delay = 0) */
  checkPassed = false;
  closed = false;
  /** tcp_user_timeout, as far as the pooler can see it (the janitor samples it) */
  readonly writeStall = new WriteStall();

  /** the transaction status of the last ReadyForQuery */
  txStatus: number = TxStatus.Idle;
  /** some of this server's replies reached the linked client: a BEGIN it sent may have been answered, so is not sent elsewhere */
  answeredPeer = false;
  private authenticator: ServerAuthenticator | null;
  private internalDone: InternalDone | null = null;
  private internalError: PoolerError | null = null;
  private internalRow: InternalRow | null = null;
  private readyPending = false;
  /** authentication requests from the server whose answer is still being computed */
  private authStepsPending = 0;
  /** SSLRequest sent, its one-byte answer not read yet */
  private awaitingTlsAnswer = false;
  /** max_packet_size: the limit once logged in */
  private readonly maxMessageLength: number;

  constructor(
    readonly target: ServerTarget,
    private readonly owner: ServerOwner,
    options: { maxMessageLength: number; tuning: TcpTuning; connect?: (target: ServerTarget) => Socket },
  ) {
    this.maxMessageLength = options.maxMessageLength;
    this.stream = new PacketStream(this, LOGIN_TABLE, Math.min(MAX_SERVER_LOGIN_MESSAGE_LENGTH, options.maxMessageLength), MAX_INSPECTED_REPLY_LENGTH);
    this.authenticator = new ServerAuthenticator(target.user, target.password, target.scramKeys);
    const unix = isUnixHost(target.host);
    const socket = (options.connect ?? connect)(target);
    if (!unix) tuneSocket(socket, options.tuning);
    this.socket = socket;
    socket.on('connect', () => (target.tls !== null && !unix ? this.requestTls() : this.sendStartup()));
    this.listenTo(socket);
  }

  private readonly onSocketData = (chunk: Buffer) => {
    // A fault in this connection's handling ends this connection (and its client), never the process.
    try {
      this.onData(chunk);
    } catch (error) {
      this.owner.onServerFault?.(this, error);
      this.close('internal_error', new PoolerError('INTERNAL', SqlState.internalError, 'internal error in the pooler while reading the server'));
    }
  };
  private readonly onSocketDrain = () => this.peer?.onServerDrain();
  private readonly onSocketErrorEvent = (error: NodeJS.ErrnoException) => this.onSocketError(error);
  private readonly onSocketCloseEvent = () => this.onSocketClose();

  private listenTo(socket: Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('drain', this.onSocketDrain);
    socket.on('error', this.onSocketErrorEvent);
    socket.on('close', this.onSocketCloseEvent);
  }

  /** SSLRequest first; the one-byte answer decides (onTlsAnswer) */
  private requestTls(): void {
    this.awaitingTlsAnswer = true;
    this.socket.write(sslRequest);
  }

  private onTlsAnswer(answer: number): void {
    this.awaitingTlsAnswer = false;
    const settings = this.target.tls!;
    if (answer === EncryptionAnswer.Refuse) {
      if (tlsRequired(settings.mode)) {
        return this.failLogin(
          new PoolerError(
            'SERVER_LOGIN_FAILED',
            SqlState.connectionFailure,
            `server ${this.target.host}:${this.target.port} does not accept TLS, and server_tls_sslmode = ${settings.mode} requires it`,
          ),
        );
      }
      return this.sendStartup();
    }
    if (answer !== EncryptionAnswer.Accept) {
      return this.failLogin(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'server sent an invalid answer to SSLRequest'));
    }
    const raw = this.socket;
    raw.off('data', this.onSocketData);
    raw.off('drain', this.onSocketDrain);
    raw.off('error', this.onSocketErrorEvent);
    raw.off('close', this.onSocketCloseEvent);
    const host = this.target.host;
    const secure = tls.connect({ ...settings.options, socket: raw, ...(net.isIP(host) === 0 ? { servername: host } : {}) });
    this.socket = secure;
    this.listenTo(secure);
    secure.once('secureConnect', () => this.sendStartup());
  }

  get address(): string {
    return isUnixHost(this.target.host) ? 'unix' : this.target.host;
  }

  /** the table replies are read with once logged in: a subclass that reads more in onReply says so here */
  protected workTable(): Uint8Array {
    return WORK_TABLE;
  }

  /**
   * Every reply read (the work table's codes), before it is forwarded; `internal` while the
   * pooler runs its own query. Skip: the reply was handled here (dropped, or sent some other way).
   * `buffer` is null for an ErrorResponse too long to read (MAX_INSPECTED_REPLY_LENGTH).
   */
  protected onReply(_code: number, _buffer: Buffer | null, _offset: number, _total: number, _internal: boolean): Disposition {
    return Disposition.Forward;
  }

  /** the server started COPY FROM STDIN (or COPY BOTH) for the linked client */
  protected onCopyInStart(): void {}

  /** the server is closing: let go of what hangs off it */
  protected onClose(): void {}

  /** when the pooler's own query started (busyInternally) */
  internalSince = 0;

  /** true while the pooler runs its own query on this server */
  get busyInternally(): boolean {
    return this.internalDone !== null;
  }

  /**
   * Run the pooler's own query: simple SQL, or ready-made messages ending in Sync (auth_query).
   * Replies are swallowed, `done` gets the first error, and `onRow` each DataRow when given.
   */
  runInternal(query: string | Buffer, done: InternalDone, onRow: InternalRow | null = null): void {
    this.internalDone = done;
    this.internalSince = clock.now;
    this.internalError = null;
    this.internalRow = onRow;
    if (onRow !== null) this.stream.table = ROWS_TABLE;
    this.stream.target = null;
    this.socket.write(typeof query === 'string' ? queryMessage(query) : query);
  }

  /** stop forwarding for this client (the pool unlinks) */
  unlink(): void {
    this.peer = null;
    this.forbidTransactions = false;
    this.answeredPeer = false;
    this.stream.target = null;
    this.readyPending = false;
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** pause reading this server while its client cannot take more */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  close(reason: DisconnectReason, error: PoolerError | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.stop();
    this.onClose();
    if (!this.socket.destroyed) {
      if (this.state !== 'login' && this.socket.writable) this.socket.end(terminateMessage);
      this.socket.destroySoon();
    }
    const done = this.internalDone;
    this.internalDone = null;
    done?.(error ?? new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, 'server connection closed', 'ERROR'));
    this.owner.onServerClosed(this, reason, error);
  }

  /** the server said it is ending: send the client what came before, then close and let the pool tell it why */
  private endWith(error: PoolerError): Disposition {
    if (this.stream.flushBeforeCurrent() && this.peer !== null) this.answeredPeer = true;
    this.close('server_error', error);
    return Disposition.Skip;
  }

  // --- PacketHandler

  onHeader(code: number, length: number): Disposition {
    if (code === BackendCode.ErrorResponse) return this.onLongError(length);
    if ((code === BackendCode.CopyInResponse || code === BackendCode.CopyBothResponse) && this.internalDone === null) this.onCopyInStart();
    return Disposition.Forward;
  }

  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    if (this.state === 'login') return this.onLoginMessage(code, buffer, offset, total);
    if (this.onReply(code, buffer, offset, total, this.internalDone !== null) === Disposition.Skip) {
      // onReply sent this reply itself (with the pooler's own after it): the bookkeeping still happens
      if (code === BackendCode.ReadyForQuery) this.onReadyForQuery(buffer[offset + HEADER_LENGTH]!);
      return Disposition.Skip;
    }
    switch (code) {
      case BackendCode.ReadyForQuery:
        return this.onReadyForQuery(buffer[offset + HEADER_LENGTH]!);
      case BackendCode.ParameterStatus: {
        const [name, value] = decodeParameterStatus(slice(buffer, offset, total));
        this.parameters.set(name, value);
        this.matchesParametersKey = null;
        this.peer?.onServerParameter(name, value);
        return Disposition.Forward;
      }
      case BackendCode.ErrorResponse:
        if (this.internalDone !== null && this.internalError === null) {
          this.internalError = decodeServerError(slice(buffer, offset, total));
        } else if (this.peer === null) {
          // An error nobody asked for, e.g. the server is shutting down: this connection is done.
          this.close('server_error', decodeServerError(slice(buffer, offset, total)));
        } else {
          // A FATAL ends this server (administrator command, crash, shutdown): the pool tells the
          // client itself, so the message can say when a failover is what is happening.
          const message = slice(buffer, offset, total);
          const severity = decodeField(message, ErrorField.SeverityUnlocalized) ?? decodeField(message, ErrorField.Severity);
          if (severity === 'FATAL' || severity === 'PANIC') return this.endWith(decodeServerError(message));
          if (this.owner.onServerErrorReply !== undefined && suggestsFailover(decodeField(message, ErrorField.Code) ?? '')) {
            this.owner.onServerErrorReply(this, decodeServerError(message));
          }
        }
        return Disposition.Forward;
      case BackendCode.NoticeResponse: {
        // An immediate shutdown or a crash elsewhere: PostgreSQL's last words are a WARNING, then it exits.
        const message = slice(buffer, offset, total);
        const sqlstate = decodeField(message, ErrorField.Code);
        if (sqlstate !== SqlState.adminShutdown && sqlstate !== SqlState.crashShutdown) return Disposition.Forward;
        return this.endWith(decodeServerError(message).withSeverity('FATAL'));
      }
      case BackendCode.DataRow:
        this.internalRow?.(decodeDataRow(slice(buffer, offset, total)));
        return Disposition.Skip;
      default:
        return Disposition.Forward;
    }
  }

  onFramingError(code: number, length: number): void {
    const message =
      length < 4
        ? `server sent invalid message length ${length} for message type ${describeCode(code)}`
        : `server sent a message of type ${describeCode(code)} with length ${length}, over ${this.state === 'login' ? 'the limit during login' : 'max_packet_size'} (${this.stream.maxMessageLength} bytes)`;
    this.close('protocol_error', new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, message));
  }

  /**
   * An ErrorResponse too long to read (it quotes a huge value): it is still an error, for the
   * pooler's own query, for a server nobody is using, and for the prepared-statement bookkeeping.
   */
  private onLongError(length: number): Disposition {
    if (this.internalDone !== null) {
      this.internalError ??= new PoolerError('SERVER_ERROR', SqlState.internalError, `the server answered with an error of ${length} bytes`, 'ERROR');
      return Disposition.Skip;
    }
    if (this.peer === null) {
      this.close('server_error', new PoolerError('SERVER_ERROR', SqlState.internalError, `unexpected error of ${length} bytes from an idle server`, 'ERROR'));
      return Disposition.Skip;
    }
    return this.onReply(BackendCode.ErrorResponse, null, this.stream.currentMessageStart, length + 1, false);
  }

  onTargetFull(): void {
    this.socket.pause();
  }

  // --- internals

  private sendStartup(): void {
    const parameters: Record<string, string> = {
      user: this.target.user,
      database: this.target.database,
      ...this.target.startupParameters,
    };
    this.socket.write(startupMessage(parameters));
  }

  private onData(chunk: Buffer): void {
    // once per read, not per message: query and transaction times need better than the tick
    clock.refresh();
    if (this.awaitingTlsAnswer) {
      this.onTlsAnswer(chunk[0]!);
      return;
    }
    // the pooler's own queries (parameter sync) are not an answer to the client
    const forPeer = this.peer !== null && this.internalDone === null;
    this.stream.feed(chunk);
    if (forPeer) this.answeredPeer = true;
    if (this.readyPending) {
      this.readyPending = false;
      this.owner.onServerReadyForQuery(this);
    }
  }

  private onReadyForQuery(status: number): Disposition {
    this.txStatus = status;
    this.readyAt = clock.now;
    const done = this.internalDone;
    if (done !== null) {
      this.internalDone = null;
      if (this.internalRow !== null) {
        this.internalRow = null;
        this.stream.table = this.workTable();
      }
      this.stream.target = this.peer?.socket ?? null;
      done(this.internalError);
      return Disposition.Skip;
    }
    if (this.peer === null) return Disposition.Forward;
    if (this.forbidTransactions && status !== TxStatus.Idle) {
      // what came before (the BEGIN's reply) still reaches the client, then the error from the pool
      if (this.stream.flushBeforeCurrent()) this.answeredPeer = true;
      this.close(
        'statement_mode_transaction',
        new PoolerError('TRANSACTION_IN_STATEMENT_MODE', SqlState.featureNotSupported, 'transaction blocks not allowed in statement pooling mode'),
      );
      return Disposition.Skip;
    }
    this.readyPending = true;
    return Disposition.Forward;
  }

  private onLoginMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    const message = slice(buffer, offset, total);
    switch (code) {
      case BackendCode.Authentication: {
        const authenticator = this.authenticator;
        if (authenticator === null) break;
        // A request the server must wait for our answer to; AuthenticationOk and SASLFinal need
        // none (unprovenLogin judges them, synchronously, at ReadyForQuery)
        const request = message.readInt32BE(HEADER_LENGTH);
        const step = request === AuthCode.Ok || request === AuthCode.SASLFinal ? 0 : 1;
        this.authStepsPending += step;
        authenticator.handle(message).then(
          (reply) => {
            this.authStepsPending -= step;
            if (reply !== null && !this.closed) this.socket.write(reply);
          },
          (error: Error) => this.failLogin(new PoolerError('SERVER_LOGIN_FAILED', SqlState.connectionFailure, error.message)),
        );
        break;
      }
      case BackendCode.ParameterStatus: {
        const [name, value] = decodeParameterStatus(message);
        this.parameters.set(name, value);
        break;
      }
      case BackendCode.BackendKeyData:
        this.processId = message.readInt32BE(HEADER_LENGTH);
        this.secretKey = message.readInt32BE(HEADER_LENGTH + 4);
        break;
      case BackendCode.ErrorResponse:
        this.failLogin(decodeServerError(message));
        break;
      case BackendCode.ReadyForQuery: {
        // Checked here, not only when the authenticator's answer comes: a ReadyForQuery in the same
        // chunk would otherwise hand an unproven server a client's query first.
        const unproven =
          this.authStepsPending > 0
            ? 'server sent ReadyForQuery before its authentication exchange finished'
            : this.authenticator?.unprovenLogin()?.message;
        if (unproven !== undefined) {
          this.failLogin(new PoolerError('SERVER_LOGIN_FAILED', SqlState.connectionFailure, unproven));
          break;
        }
        this.authenticator = null;
        this.txStatus = message[5]!;
        this.stream.table = this.workTable();
        this.stream.maxMessageLength = this.maxMessageLength;
        this.owner.onServerLogin(this, null);
        break;
      }
      default:
        break;
    }
    return Disposition.Skip;
  }

  /** end a login that failed or took too long; the pool hears of it before the close */
  failLogin(error: PoolerError): void {
    if (this.closed) return;
    this.owner.onServerLogin(this, error);
    this.close('login_failed', error);
  }

  private onSocketError(error: NodeJS.ErrnoException): void {
    const where = describeTarget(this.target);
    const serverError = new PoolerError(
      'SERVER_CONNECTION_LOST',
      SqlState.connectionFailure,
      // a TLS failure's code (UNABLE_TO_VERIFY_LEAF_SIGNATURE) says less than its message
      `could not talk to server at ${where}: ${this.socket instanceof tls.TLSSocket ? `TLS: ${error.message}` : (error.code ?? error.message)}`,
    );
    if (this.state === 'login') this.failLogin(serverError);
    else this.close('server_close', serverError);
  }

  private onSocketClose(): void {
    if (this.closed) return;
    const error = new PoolerError('SERVER_CONNECTION_LOST', SqlState.connectionFailure, 'server closed the connection unexpectedly');
    if (this.state === 'login') this.failLogin(error);
    else this.close('server_close', error);
  }
}

function slice(buffer: Buffer, offset: number, total: number): Buffer {
  return offset === 0 && total === buffer.length ? buffer : buffer.subarray(offset, offset + total);
}
