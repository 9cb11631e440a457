// One client connection: its login (login.ts), then the work phase — holding what the client sends
// until the pool links a server, forwarding it as slices once linked, and tracking which messages
// the server still owes replies for — or a console session.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { clock } from '../clock.js';
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import { describeCode, Disposition, PacketStream, Treat, treatTable, type PacketHandler } from '../net/packet-stream.js';
import { tuneSocket, WriteStall } from '../net/socket-tuning.js';
import type { ClientLink, ClientPool } from './pool-port.js';
import { isOneRequest } from './queued-request.js';
import { authenticationOk, backendKeyData, errorResponseFor, parameterStatus, readyForQueryIdle } from '../protocol/backend-messages.js';
import {
  FrontendCode,
  HEADER_LENGTH,
  MAX_AUTH_MESSAGE_LENGTH,
  MAX_CLASSIFIED_STATEMENT_LENGTH,
  MAX_CONSOLE_MESSAGE_LENGTH,
  MAX_SMALL_MESSAGE_LENGTH,
  SMALL_FRONTEND_CODES,
} from '../protocol/codes.js';
import { CONSOLE_PARAMETERS, type ConsoleChannel } from './console-port.js';
import { Login, LOGIN_TABLE, type LoginContext, type LoginHost, type LoginResult } from './login.js';
import { TRACKED_PARAMETERS, type ClientStartup } from './startup-parameters.js';
import { parametersKey } from './parameters-key.js';
import { isLoneBegin } from './replayable-begin.js';

export { CONSOLE } from './login.js';

/** what a client needs from the pooler around it: what its login needs, and a few things after */
export interface ClientContext extends LoginContext<ClientConnection> {
  readonly log: Logger;
  /** a client finished login and holds a cancel key now */
  registerCancelKey(client: ClientConnection): void;
  onClientClosed(client: ClientConnection): void;
}

/** where a client stands, and what exists there: a login, a pool and its link, or a console session */
type Phase =
  /** startup packet, TLS and authentication: the login reads what the client sends */
  | { readonly name: 'login'; readonly login: Login<ClientConnection> }
  /**
   * logged in to a pool that has no welcome (server parameters) yet; what the client sends is held.
   * `link` is null only while the pool's addClient runs.
   */
  | { readonly name: 'welcome'; readonly startup: ClientStartup; readonly pool: ClientPool; link: ClientLink | null }
  /** welcomed: work goes to a server through the link */
  | { readonly name: 'ready'; readonly startup: ClientStartup; readonly pool: ClientPool; readonly link: ClientLink }
  | { readonly name: 'console'; readonly startup: ClientStartup; readonly session: ConsoleChannel }
  | { readonly name: 'closed'; readonly startup: ClientStartup | null; readonly link: ClientLink | null; readonly console: boolean };

/** the console reads every message whole; none is forwarded */
const CONSOLE_TABLE = new Uint8Array(256).fill(Treat.Whole);

/**
 * After login every message type PostgreSQL accepts is read by its header, except CopyData and
 * Flush, which pass; any other type is refused here, never forwarded: PostgreSQL would end the
 * connection with a FATAL that arrives after the replies before it, when the server may already be
 * another client's.
 */
const WORK_TABLE = treatTable({
  ...Object.fromEntries(Array.from({ length: 256 }, (_, code) => [code, Treat.Header])),
  [FrontendCode.CopyData]: Treat.Pass,
  [FrontendCode.Flush]: Treat.Pass,
  [FrontendCode.Query]: Treat.Header,
  [FrontendCode.Sync]: Treat.Header,
  [FrontendCode.FunctionCall]: Treat.Header,
  [FrontendCode.Parse]: Treat.Header,
  [FrontendCode.Bind]: Treat.Header,
  [FrontendCode.Describe]: Treat.Header,
  [FrontendCode.Execute]: Treat.Header,
  [FrontendCode.Close]: Treat.Header,
  [FrontendCode.CopyDone]: Treat.Header,
  [FrontendCode.CopyFail]: Treat.Header,
  [FrontendCode.Terminate]: Treat.Header,
});
/**
 * The work phase's per-type limits: PostgreSQL's own for the small messages. A Flush has no body:
 * PostgreSQL answers one with a body with an error and then skips everything up to a Sync, which
 * the pooler, forwarding Flush unread, would not know to wait for before handing the server on.
 */
const WORK_CODE_LIMITS = new Uint32Array(256);
for (const code of SMALL_FRONTEND_CODES) WORK_CODE_LIMITS[code] = MAX_SMALL_MESSAGE_LENGTH;
WORK_CODE_LIMITS[FrontendCode.Flush] = HEADER_LENGTH - 1;

/** the request messages a client may send once logged in (Terminate aside), all handed to its link */
const REQUEST_CODES = new Uint8Array(256);
for (const code of [
  FrontendCode.Query, FrontendCode.Sync, FrontendCode.FunctionCall, FrontendCode.Parse, FrontendCode.Bind, FrontendCode.Describe,
  FrontendCode.Execute, FrontendCode.Close, FrontendCode.CopyDone, FrontendCode.CopyFail,
]) REQUEST_CODES[code] = 1;

/** with prepared statements tracked, statement names are read from the messages that carry them */
const PREPARED_WORK_TABLE = Uint8Array.from(WORK_TABLE);
for (const code of [FrontendCode.Parse, FrontendCode.Bind, FrontendCode.Describe, FrontendCode.Close]) PREPARED_WORK_TABLE[code] = Treat.Whole;
// Execute too (it is short): a Bind that meets a stale plan is retried with it
PREPARED_WORK_TABLE[FrontendCode.Execute] = Treat.Whole;

/**
 * with session state followed (transaction and statement mode), Query and Parse texts are read
 * whole up to MAX_CLASSIFIED_STATEMENT_LENGTH to be classified; longer ones pass unread
 */
const SESSION_WORK_TABLE = Uint8Array.from(WORK_TABLE);
SESSION_WORK_TABLE[FrontendCode.Query] = Treat.Capped;
SESSION_WORK_TABLE[FrontendCode.Parse] = Treat.Capped;
const SESSION_PREPARED_WORK_TABLE = Uint8Array.from(PREPARED_WORK_TABLE);
SESSION_PREPARED_WORK_TABLE[FrontendCode.Query] = Treat.Capped;

let nextClientId = 1;

const NO_SETTINGS: ReadonlyMap<string, string> = new Map();

/** the tracked names in lower case, one set per configuration */
const lowerNameSets = new WeakMap<ReadonlySet<string>, ReadonlySet<string>>();
function lowerNamesFor(names: ReadonlySet<string>): ReadonlySet<string> {
  let lower = lowerNameSets.get(names);
  if (lower === undefined) {
    lower = new Set([...names].map((name) => name.toLowerCase()));
    lowerNameSets.set(names, lower);
  }
  return lower;
}

/** one shared set per configuration rather than one per client: it is the same for all of them */
const trackedNameSets = new WeakMap<readonly string[], ReadonlySet<string>>();
function trackedNamesFor(extra: readonly string[]): ReadonlySet<string> {
  let names = trackedNameSets.get(extra);
  if (names === undefined) {
    names = new Set([...TRACKED_PARAMETERS, ...extra]);
    trackedNameSets.set(extra, names);
  }
  return names;
}

export class ClientConnection implements PacketHandler, LoginHost {
  readonly id = nextClientId++;
  readonly stream: PacketStream;
  readonly connectTime = clock.refresh();
  /** the linked server's socket, once it has the client's parameters; what the client sends goes there */
  private serverSocket: Socket | null = null;
  lastActivity = clock.now;
  /** the random key this client cancels with; never the server's */
  readonly processId = randomInt(1, 0x7fffffff);
  readonly secretKey = randomInt(0, 0x7fffffff) | 0;
  /** the client's view of the tracked session parameters */
  readonly parameters = new Map<string, string>();
  /** `parameters` as one string, rebuilt when they change; equal keys mean equal settings */
  parametersKey = '';
  /** made on first use: most clients never log a line, and a child logger per client costs memory */
  private childLog: Logger | null = null;
  /** the parameter names whose values follow the client from server to server */
  private readonly trackedNames: ReadonlySet<string>;

  private phase: Phase;
  /** what the client sent while it had no server, in order */
  private held: Buffer[] = [];
  /** the lone chunk that is all this client sent its server so far (a BEGIN, or what went to a replica), kept to send again if that server dies unanswered; null once it sends more */
  private unanswered: Buffer | null = null;
  private pausedForServer = false;
  /** a message waits in `held` for the linked server's replies to what came before it */
  private heldForAnswers = false;
  /** tcp_user_timeout, as far as the pooler can see it (the janitor samples it) */
  readonly writeStall = new WriteStall();
  private pausedForPeer = false;
  private terminating = false;

  /** the socket the client talks over: the TCP socket, or the TLS socket wrapped around it */
  socket: Socket;
  /** the negotiated TLS version and cipher, for SHOW CLIENTS; '' without TLS */
  tlsDescription = '';

  constructor(
    socket: Socket,
    private readonly context: ClientContext,
  ) {
    this.socket = socket;
    this.stream = new PacketStream(this, LOGIN_TABLE, MAX_AUTH_MESSAGE_LENGTH);
    this.trackedNames = trackedNamesFor(context.settings.track_extra_parameters);
    this.phase = { name: 'login', login: new Login(this, context) };
    tuneSocket(socket, context.settings);
    this.listenTo(socket);
  }

  private readonly onSocketData = (chunk: Buffer) => {
    // A fault in this connection's handling ends this connection, never the process.
    try {
      this.onData(chunk);
    } catch (error) {
      this.onInternalError(error);
    }
  };
  private readonly onSocketDrain = () => this.onDrain();
  private readonly onSocketGone = () => this.close('client_close');

  private listenTo(socket: Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('drain', this.onSocketDrain);
    socket.on('error', this.onSocketGone);
    socket.on('close', this.onSocketGone);
  }

  // --- LoginHost

  detachSocket(): void {
    const raw = this.socket;
    raw.off('data', this.onSocketData);
    raw.off('drain', this.onSocketDrain);
    raw.off('error', this.onSocketGone);
    raw.off('close', this.onSocketGone);
  }

  attachSocket(secure: tls.TLSSocket): void {
    this.socket = secure;
    this.listenTo(secure);
  }

  receive(chunk: Buffer): void {
    this.onData(chunk);
  }

  loggedIn(result: LoginResult): void {
    if (result.kind === 'console') return this.openConsole(result.startup, result.session);
    const phase: Phase = { name: 'welcome', startup: result.startup, pool: result.pool, link: null };
    this.phase = phase;
    // the pool may welcome the client (onWelcome) or fail it before addClient returns
    const link = result.pool.addClient(this);
    if (this.phase === phase) phase.link = link;
  }

  private openConsole(startup: ClientStartup, session: ConsoleChannel): void {
    this.phase = { name: 'console', startup, session };
    this.stream.table = CONSOLE_TABLE;
    this.stream.maxMessageLength = MAX_CONSOLE_MESSAGE_LENGTH;
    const welcome = [authenticationOk, ...CONSOLE_PARAMETERS.map(([name, value]) => parameterStatus(name, value))];
    this.socket.write(Buffer.concat([...welcome, backendKeyData(this.processId, this.secretKey), readyForQueryIdle]));
    this.context.registerCancelKey(this);
    if (this.context.settings.log_connections) {
      this.log.info({ db: startup.database, user: startup.user, admin: session.user.admin }, 'login attempt: ok (console)');
    }
  }

  // --- what the pooler reads

  get address(): string {
    return this.socket.remoteAddress ?? 'unix';
  }

  get betweenMessages(): boolean {
    return this.stream.betweenMessages;
  }

  /**
   * Nothing would be cut off by closing this client now: it is logging in, on the console, or
   * between transactions (no server, or a server that owes nothing and is outside a transaction).
   * A client waiting for a server has a query queued, so it is not.
   */
  get betweenTransactions(): boolean {
    const phase = this.phase;
    if (phase.name !== 'ready') return phase.name !== 'welcome';
    if (phase.link.state === 'waiting' || this.held.length > 0 || !this.stream.betweenMessages) return false;
    return phase.link.quiet;
  }

  /** the client's startup parameters, once its startup packet is read */
  get startup(): ClientStartup | null {
    const phase = this.phase;
    return phase.name === 'login' ? phase.login.startup : phase.startup;
  }

  /** the client's link to its pool, once logged in to one */
  get link(): ClientLink | null {
    const phase = this.phase;
    return phase.name === 'welcome' || phase.name === 'ready' || phase.name === 'closed' ? phase.link : null;
  }

  /** 'login' until the pool has it, then its link's state */
  get state(): 'login' | ClientLink['state'] {
    return this.link?.state ?? 'login';
  }

  get log(): Logger {
    this.childLog ??= this.context.log.child({ client: `C-${this.id}`, addr: `${this.socket.remoteAddress}:${this.socket.remotePort}` });
    return this.childLog;
  }

  get isConsole(): boolean {
    const phase = this.phase;
    return phase.name === 'console' || (phase.name === 'closed' && phase.console);
  }

  get inLogin(): boolean {
    return this.phase.name === 'login';
  }

  /** settings from the startup packet beyond the tracked ones, replayed on every server the client gets */
  get startupSettings(): ReadonlyMap<string, string> {
    return this.startup?.settings ?? NO_SETTINGS;
  }

  /** the parameters followed through ParameterStatus, lower case */
  get trackedParameterNames(): ReadonlySet<string> {
    return lowerNamesFor(this.trackedNames);
  }

  get preparedStatementCount(): number {
    return this.link?.preparedStatementCount ?? 0;
  }

  // --- pool events (PoolClient)

  onWelcome(welcome: Map<string, string>, link: ClientLink): void {
    const phase = this.phase;
    if (phase.name !== 'welcome') return;
    const messages: Buffer[] = [authenticationOk];
    const tracked = phase.startup.tracked;
    for (const [name, value] of welcome) messages.push(parameterStatus(name, tracked.get(name) ?? value));
    for (const [name, value] of tracked) if (!welcome.has(name)) messages.push(parameterStatus(name, value));
    for (const name of this.trackedNames) {
      const value = tracked.get(name) ?? welcome.get(name);
      if (value !== undefined) this.parameters.set(name, value);
    }
    this.parametersKey = parametersKey(this.parameters);
    messages.push(backendKeyData(this.processId, this.secretKey), readyForQueryIdle);
    this.socket.write(Buffer.concat(messages));
    this.phase = { name: 'ready', startup: phase.startup, pool: phase.pool, link };
    this.stream.table = link.classifies ? (link.statements ? SESSION_PREPARED_WORK_TABLE : SESSION_WORK_TABLE) : link.statements ? PREPARED_WORK_TABLE : WORK_TABLE;
    this.stream.maxMessageLength = this.context.settings.max_packet_size;
    this.stream.codeLimits = WORK_CODE_LIMITS;
    this.stream.inspectLimit = MAX_CLASSIFIED_STATEMENT_LENGTH;
    this.context.registerCancelKey(this);
    if (this.context.settings.log_connections) {
      this.log.info({ db: phase.startup.database, user: phase.startup.user }, 'login attempt: ok');
    }
    // Anything the client sent before our ReadyForQuery is work for a server now.
    const early = this.held;
    this.held = [];
    this.pausedForServer = false;
    for (const chunk of early) this.onWorkData(chunk, link);
    this.updateReading();
  }

  onLinked(serverSocket: Socket): void {
    if (this.phase.name === 'closed') return;
    this.serverSocket = serverSocket;
    this.stream.target = serverSocket;
    this.sendHeld();
  }

  onUnlinked(): void {
    this.serverSocket = null;
    this.stream.target = null;
    this.unanswered = null;
    if (this.heldForAnswers) {
      // the server went before answering: what was held goes to the next server, once the pool
      // has finished with this one
      this.heldForAnswers = false;
      setImmediate(() => {
        const phase = this.phase;
        if (phase.name === 'ready' && this.serverSocket === null && this.held.length > 0 && phase.link.state !== 'waiting') phase.link.requestServer();
      });
    }
    if (this.pausedForPeer) {
      this.pausedForPeer = false;
      this.updateReading();
    }
  }

  holdUnanswered(): boolean {
    const begin = this.unanswered;
    this.unanswered = null;
    const phase = this.phase;
    if (begin === null || phase.name !== 'ready' || this.held.length > 0) return false;
    if (!isLoneBegin(begin) && !phase.link.readRetryable) return false;
    this.held = [begin];
    this.pausedForServer = true;
    this.updateReading();
    return true;
  }

  /**
   * A cancel came while the client waits for a server: when what it holds is exactly one request,
   * drop it and answer as the server would (57014, then ReadyForQuery), and say true. PgBouncer
   * drops such a cancel, and the query runs once a server is free.
   */
  cancelQueued(): boolean {
    const phase = this.phase;
    if (phase.name !== 'ready' || this.serverSocket !== null || this.heldForAnswers || !this.stream.betweenMessages) return false;
    const held = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    if (!isOneRequest(held)) return false;
    this.held = [];
    this.unanswered = null;
    this.pausedForServer = false;
    const canceled = new PoolerError('QUERY_CANCELED', SqlState.queryCanceled, 'canceling statement due to user request', 'ERROR');
    this.socket.write(Buffer.concat([errorResponseFor(canceled), readyForQueryIdle]));
    this.updateReading();
    return true;
  }

  firstHeldMessage(): Buffer | null {
    const held = this.held;
    if (held.length === 0) return null;
    // a message cut over several chunks: join them, once
    const first = held.length === 1 ? held[0]! : (this.held = [Buffer.concat(held)])[0]!;
    if (first.length < HEADER_LENGTH) return null;
    const end = 1 + first.readUInt32BE(1);
    return end <= first.length ? first.subarray(0, end) : null;
  }

  onServerParameter(name: string, value: string): void {
    if (!this.trackedNames.has(name)) return;
    this.parameters.set(name, value);
    this.parametersKey = parametersKey(this.parameters);
  }

  onServerDrain(): void {
    if (this.pausedForPeer) {
      this.pausedForPeer = false;
      this.updateReading();
    }
  }

  fail(error: PoolerError, reason: DisconnectReason): void {
    if (this.phase.name === 'closed') return;
    if (this.context.settings.log_pooler_errors) this.log.warn({ sqlstate: error.sqlstate, reason }, `pooler error: ${error.message}`);
    if (this.socket.writable) this.socket.end(errorResponseFor(error, error.severity === 'ERROR' ? 'FATAL' : error.severity));
    this.close(reason);
  }

  close(reason: DisconnectReason): void {
    const phase = this.phase;
    if (phase.name === 'closed') return;
    const link = this.link;
    this.phase = { name: 'closed', startup: this.startup, link, console: phase.name === 'console' };
    this.stream.stop();
    this.held = [];
    if (phase.name === 'login') phase.login.stop(reason);
    link?.close();
    if (!this.socket.destroyed) this.socket.destroySoon();
    this.context.onClientClosed(this);
    if (phase.name === 'ready' && this.context.settings.log_disconnections) {
      const age = ((clock.refresh() - this.connectTime) / 1000).toFixed(1);
      this.log.info({ reason, age }, `closing because: ${reason} (age=${age}s)`);
    }
  }

  // --- PacketHandler

  onHeader(code: number): Disposition {
    if (code === FrontendCode.Terminate) {
      this.terminating = true;
      return Disposition.Skip;
    }
    if (!REQUEST_CODES[code]) {
      this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, `invalid frontend message type ${code}`), 'protocol_error');
      return Disposition.Skip;
    }
    // only the work phase's tables read headers
    const phase = this.phase;
    return phase.name === 'ready' ? phase.link.onHeader(code) : Disposition.Skip;
  }

  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    const phase = this.phase;
    switch (phase.name) {
      case 'ready':
        return phase.link.onMessage(code, buffer, offset, total);
      case 'console':
        phase.session.receive(buffer.subarray(offset, offset + total));
        return Disposition.Skip;
      case 'login':
        return phase.login.onMessage(code, buffer, offset, total);
      case 'welcome':
      case 'closed':
        // never fed: held until welcomed, or stopped
        return Disposition.Skip;
    }
  }

  onFramingError(code: number, length: number): void {
    const phase = this.phase.name;
    const codeLimit = WORK_CODE_LIMITS[code] ?? 0;
    const small = phase === 'ready' && codeLimit > 0 && length > codeLimit;
    const limit = small
      ? `PostgreSQL's limit for this message type (${codeLimit} bytes)`
      : `${phase === 'ready' ? 'max_packet_size' : phase === 'console' ? 'the console\'s limit' : 'the limit for login messages'} (${this.stream.maxMessageLength} bytes)`;
    const message =
      length < 4
        ? `client sent invalid message length ${length} for message type ${describeCode(code)}`
        : small && codeLimit === HEADER_LENGTH - 1
          ? `client sent a message of type ${describeCode(code)} with length ${length}, but this message type has no body (length 4)`
          : `client sent a message of type ${describeCode(code)} with length ${length}, over ${limit}`;
    this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, message), 'protocol_error');
  }

  /** a bug met while handling this client: log it, tell the client without internals, close it */
  private onInternalError(error: unknown): void {
    this.context.log.error({ client: `C-${this.id}`, err: error }, 'internal error while handling a client; closing it');
    this.fail(new PoolerError('INTERNAL', SqlState.internalError, 'internal error in the pooler; the connection is closed'), 'internal_error');
  }

  onTargetFull(): void {
    this.pausedForPeer = true;
    this.updateReading();
  }

  // --- socket events

  private onData(chunk: Buffer): void {
    // once per read, not per message: query and transaction times need better than the tick
    this.lastActivity = clock.refresh();
    const phase = this.phase;
    switch (phase.name) {
      case 'ready':
        return this.onWorkData(chunk, phase.link);
      case 'login':
        return phase.login.receive(chunk);
      case 'console':
        this.stream.feed(chunk);
        return;
      case 'welcome':
        // Sent before our ReadyForQuery: keep it for when the client is ready.
        this.held.push(chunk);
        this.pausedForServer = true;
        this.updateReading();
        return;
      case 'closed':
        return;
    }
  }

  private onWorkData(chunk: Buffer, link: ClientLink): void {
    this.unanswered = null;
    if (this.serverSocket !== null && this.held.length === 0) {
      this.feedWork(chunk, null);
      return;
    }
    this.held.push(chunk);
    if (link.serverId !== null || link.state === 'waiting') return;
    // A Terminate from a client with no server needs no server.
    if (this.stream.betweenMessages && this.held.length === 1 && chunk[0] === FrontendCode.Terminate) {
      return this.close('client_terminate');
    }
    if (this.held.length === 1 && this.stream.betweenMessages && link.answerWithoutServer(chunk)) {
      this.held = [];
      return;
    }
    this.pausedForServer = true;
    this.updateReading();
    link.requestServer();
  }

  private sendHeld(): void {
    const held = this.held;
    this.held = [];
    this.pausedForServer = false;
    const phase = this.phase;
    const lone = held.length === 1 ? held[0] : undefined;
    const replaysBegin = (phase.name === 'ready' || phase.name === 'welcome') && phase.pool.replaysBegin;
    // kept while it may be sent again: a lone BEGIN, or what goes to a replica (if it all proves a read)
    const retries = phase.name === 'ready' && phase.link.routedToReplica;
    this.unanswered = lone !== undefined && (retries || (replaysBegin && isLoneBegin(lone))) ? lone : null;
    let next = 1;
    for (const chunk of held) {
      if (!this.feedWork(chunk, held.slice(next))) return;
      next++;
    }
    this.updateReading();
  }

  /**
   * Feed one chunk of work to the linked server; false when the client is gone or a message must
   * wait for the server's answers (Disposition.Hold): it, the rest of the chunk and `later` are
   * held until the server's next ReadyForQuery (onServerAnswered).
   */
  private feedWork(chunk: Buffer, later: Buffer[] | null): boolean {
    this.stream.feed(chunk);
    if (this.terminating) {
      this.close('client_terminate');
      return false;
    }
    if (this.phase.name === 'closed') return false;
    const rest = this.stream.takeRest();
    if (rest === null) return true;
    this.held = later === null ? [rest] : [rest, ...later];
    this.heldForAnswers = true;
    this.pausedForServer = true;
    this.updateReading();
    const phase = this.phase;
    if (phase.name === 'ready') phase.link.onHeld();
    return false;
  }

  onServerAnswered(): void {
    if (!this.heldForAnswers || this.serverSocket === null) return;
    this.heldForAnswers = false;
    this.sendHeld();
  }

  private onDrain(): void {
    this.link?.onClientDrained();
  }

  private updateReading(): void {
    if (this.phase.name === 'closed') return;
    if (this.pausedForServer || this.pausedForPeer) this.socket.pause();
    else this.socket.resume();
  }
}
