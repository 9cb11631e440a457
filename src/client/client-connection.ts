// One client connection: startup (SSL/GSS refusal, cancel, protocol negotiation), login, then the
// work phase — holding what the client sends until the pool links a server, forwarding it as
// slices once linked, and tracking which messages the server still owes replies for.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { clock } from '../clock.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import { describeCode, Disposition, PacketStream, Treat, treatTable, type PacketHandler } from '../net/packet-stream.js';
import { tuneSocket, WriteStall } from '../net/socket-tuning.js';
import type { ClientLink, ClientPool } from './pool-port.js';
import {
  authenticationOk,
  backendKeyData,
  errorResponseFor,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQueryIdle,
  refuseEncryption,
  acceptEncryption,
} from '../protocol/backend-messages.js';
import {
  FrontendCode,
  MAX_AUTH_MESSAGE_LENGTH,
  MAX_CLASSIFIED_STATEMENT_LENGTH,
  MAX_CONSOLE_MESSAGE_LENGTH,
  MAX_SMALL_MESSAGE_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  SMALL_FRONTEND_CODES,
} from '../protocol/codes.js';
import { decodeFirstMessage } from '../protocol/decode.js';
import { CONSOLE_PARAMETERS, type ConsoleChannel } from './console-port.js';
import type { ScramClientKeys } from '../auth/scram-client.js';
import type { ChosenAuth } from '../auth/client-auth-rules.js';
import type { HbaConnection } from '../auth/hba.js';
import { tlsServerEndPoint } from '../auth/channel-binding.js';
import { peerCertificateVerified, tlsRequired, type ClientTls } from '../net/client-tls.js';
import { ClientAuthenticator } from './client-auth.js';
import { checkStartupParameters, TRACKED_PARAMETERS, type ClientStartup } from './startup-parameters.js';
import { parametersKey } from './parameters-key.js';
import { isLoneBegin } from './replayable-begin.js';

/** what a client needs from the pooler around it */
export interface ClientContext {
  readonly settings: Settings;
  readonly log: Logger;
  /** the login method for this connection: auth_type, or the matching auth_hba_file rule */
  chooseAuth(connection: HbaConnection): ChosenAuth | PoolerError;
  /** the stored secret for a user (auth_file, DATABASE_URL), or null */
  lookupSecret(user: string): string | null;
  /** auth_query's answer for a user missing from auth_file; undefined when no auth_user applies */
  querySecret(database: DatabaseConfig, user: string): Promise<string | null> | undefined;
  /** the user logged in against a secret from auth_query: servers log in with it too */
  rememberQueriedSecret(database: DatabaseConfig, user: string, secret: string): void;
  /** the database entry a client name maps to, CONSOLE for the admin console, or an error to send; `client` sent its startup packet */
  findDatabase(name: string, client: ClientConnection): DatabaseConfig | typeof CONSOLE | PoolerError;
  /** a console session for an authenticated user, or the error that refuses them */
  openConsole(client: ClientConnection, user: string): ConsoleChannel | PoolerError;
  poolFor(database: DatabaseConfig, user: string): ClientPool;
  /** a client finished login and holds a cancel key now */
  registerCancelKey(client: ClientConnection): void;
  /** TLS toward clients, or null when client_tls_sslmode = disable */
  readonly clientTls: ClientTls | null;
  /** a CancelRequest arrived on a new connection */
  forwardCancel(processId: number, secretKey: number): void;
  onClientClosed(client: ClientConnection): void;
}

type Phase = 'startup' | 'auth' | 'welcome' | 'ready' | 'console' | 'closed';

/** what findDatabase returns for the console's names (pooler, pgbouncer) */
export const CONSOLE = Symbol('console');

/** the console reads every message whole; none is forwarded */
const CONSOLE_TABLE = new Uint8Array(256).fill(Treat.Whole);

/** during login every message is read whole: only PasswordMessage belongs there, anything else is refused */
const LOGIN_TABLE = new Uint8Array(256).fill(Treat.Whole);
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
/** the work phase's per-type limits: PostgreSQL's own for the small messages */
const WORK_CODE_LIMITS = new Uint32Array(256);
for (const code of SMALL_FRONTEND_CODES) WORK_CODE_LIMITS[code] = MAX_SMALL_MESSAGE_LENGTH;

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

/** a TLS record of type handshake: the first byte of a ClientHello */
const TLS_HANDSHAKE_RECORD = 0x16;
const POSTGRESQL_ALPN = 'postgresql';

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

export class ClientConnection implements PacketHandler {
  readonly id = nextClientId++;
  readonly stream: PacketStream;
  readonly connectTime = clock.refresh();
  /** the client's pool and its link to it, once logged in */
  pool: ClientPool | null = null;
  link: ClientLink | null = null;
  /** the linked server's socket, once it has the client's parameters; what the client sends goes there */
  private serverSocket: Socket | null = null;
  lastActivity = clock.now;
  /** the random key this client cancels with; never the server's */
  readonly processId = randomInt(1, 0x7fffffff);
  readonly secretKey = randomInt(0, 0x7fffffff) | 0;
  startup: ClientStartup | null = null;
  /** the client's view of the tracked session parameters */
  readonly parameters = new Map<string, string>();
  /** `parameters` as one string, rebuilt when they change; equal keys mean equal settings */
  parametersKey = '';
  /** made on first use: most clients never log a line, and a child logger per client costs memory */
  private childLog: Logger | null = null;
  /** the parameter names whose values follow the client from server to server */
  private readonly trackedNames: ReadonlySet<string>;

  private phase: Phase = 'startup';
  /** the secret auth_query found for this client, until handed to the pool */
  private queriedSecret: string | null = null;
  /** from a SCRAM login, until handed to the pool (pass-through); not kept after that */
  private scramKeys: ScramClientKeys | null = null;
  /** set once a console user logged in; the client then never gets a pool */
  private console: ConsoleChannel | null = null;
  private startupBytes: Buffer | null = null;
  private authenticator: ClientAuthenticator | null = null;
  /** the authenticator is working on the client's last message (a hash, an auth_query lookup) */
  private authBusy = false;
  /** what the client sent during login after a message the authenticator was still working on */
  private loginHeld: Buffer[] = [];
  /** what the client sent while it had no server, in order */
  private held: Buffer[] = [];
  /** the lone BEGIN that is all this client sent its server so far; null once it sends more */
  private unansweredBegin: Buffer | null = null;
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
  /** the client presented a certificate that verified against client_tls_ca_file */
  private certificateVerified = false;

  constructor(
    socket: Socket,
    private readonly context: ClientContext,
  ) {
    this.socket = socket;
    this.stream = new PacketStream(this, LOGIN_TABLE, MAX_AUTH_MESSAGE_LENGTH);
    this.trackedNames = trackedNamesFor(context.settings.track_extra_parameters);
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

  /**
   * Continue over TLS; the TLS socket takes over the TCP one. After an SSLRequest we answer 'S'
   * first; with PostgreSQL 17's direct TLS (`hello`: the ClientHello already read) there is no
   * request, and ALPN must say "postgresql", as PostgreSQL insists.
   */
  private startTls(tlsConfig: ClientTls, hello: Buffer | null): void {
    const raw = this.socket;
    if (hello === null) raw.write(acceptEncryption);
    raw.off('data', this.onSocketData);
    raw.off('drain', this.onSocketDrain);
    raw.off('error', this.onSocketGone);
    raw.off('close', this.onSocketGone);
    if (hello !== null) {
      // TLSSocket reads what is buffered on the socket first, so the ClientHello goes back there
      raw.pause();
      raw.unshift(hello);
    }
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: tlsConfig.context,
      requestCert: tlsConfig.requestCert,
      rejectUnauthorized: tlsConfig.verifyClient,
      ALPNProtocols: [POSTGRESQL_ALPN],
    });
    secure.once('secure', () => {
      this.tlsDescription = `${secure.getProtocol() ?? 'TLS'}/${secure.getCipher()?.name ?? ''}`;
      this.certificateVerified = peerCertificateVerified(secure);
      if (tlsConfig.verifyClient && !this.certificateVerified) {
        this.fail(new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, 'the client certificate did not verify against client_tls_ca_file'), 'auth_failed');
      } else if (hello !== null && secure.alpnProtocol !== POSTGRESQL_ALPN) {
        this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'direct TLS connection without ALPN "postgresql"'), 'protocol_error');
      }
    });
    this.socket = secure;
    this.listenTo(secure);
    if (hello !== null) secure.resume();
  }

  /** over TLS, what SCRAM-SHA-256-PLUS binds to: the hash of the certificate we presented */
  private channelBinding(): Buffer | null {
    if (!(this.socket instanceof tls.TLSSocket)) return null;
    const own = this.socket.getCertificate();
    return own !== null && 'raw' in own ? tlsServerEndPoint(own.raw) : null;
  }

  /** the CN of a client certificate that verified against client_tls_ca_file; null without one */
  private certificateName(): string | null {
    const socket = this.socket;
    if (!(socket instanceof tls.TLSSocket) || !this.certificateVerified) return null;
    const cn = socket.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' ? cn : null;
  }

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
    if (this.phase !== 'ready') return this.phase !== 'welcome';
    if (this.link === null || this.link.state === 'waiting' || this.held.length > 0 || !this.stream.betweenMessages) return false;
    return this.link.quiet;
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
    return this.console !== null;
  }

  get inLogin(): boolean {
    return this.phase === 'startup' || this.phase === 'auth';
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
    this.link = link;
    if (this.phase === 'closed') return;
    const messages: Buffer[] = [authenticationOk];
    const tracked = this.startup!.tracked;
    for (const [name, value] of welcome) messages.push(parameterStatus(name, tracked.get(name) ?? value));
    for (const [name, value] of tracked) if (!welcome.has(name)) messages.push(parameterStatus(name, value));
    for (const name of this.trackedNames) {
      const value = tracked.get(name) ?? welcome.get(name);
      if (value !== undefined) this.parameters.set(name, value);
    }
    this.parametersKey = parametersKey(this.parameters);
    messages.push(backendKeyData(this.processId, this.secretKey), readyForQueryIdle);
    this.socket.write(Buffer.concat(messages));
    this.phase = 'ready';
    this.stream.table = WORK_TABLE;
    this.stream.maxMessageLength = this.context.settings.max_packet_size;
    this.stream.codeLimits = WORK_CODE_LIMITS;
    this.stream.table = link.classifies ? (link.statements ? SESSION_PREPARED_WORK_TABLE : SESSION_WORK_TABLE) : link.statements ? PREPARED_WORK_TABLE : WORK_TABLE;
    this.stream.inspectLimit = MAX_CLASSIFIED_STATEMENT_LENGTH;
    this.context.registerCancelKey(this);
    if (this.context.settings.log_connections) {
      this.log.info({ db: this.startup!.database, user: this.startup!.user }, 'login attempt: ok');
    }
    // Anything the client sent before our ReadyForQuery is work for a server now.
    const early = this.held;
    this.held = [];
    this.pausedForServer = false;
    for (const chunk of early) this.onWorkData(chunk);
    this.updateReading();
  }

  onLinked(serverSocket: Socket): void {
    if (this.phase === 'closed') return;
    this.serverSocket = serverSocket;
    this.stream.target = serverSocket;
    this.sendHeld();
  }

  onUnlinked(): void {
    this.serverSocket = null;
    this.stream.target = null;
    this.unansweredBegin = null;
    if (this.heldForAnswers) {
      // the server went before answering: what was held goes to the next server, once the pool
      // has finished with this one
      this.heldForAnswers = false;
      setImmediate(() => {
        const link = this.link;
        if (this.phase === 'ready' && link !== null && this.serverSocket === null && this.held.length > 0 && link.state !== 'waiting') link.requestServer();
      });
    }
    if (this.pausedForPeer) {
      this.pausedForPeer = false;
      this.updateReading();
    }
  }

  holdUnansweredBegin(): boolean {
    const begin = this.unansweredBegin;
    this.unansweredBegin = null;
    if (begin === null || this.phase !== 'ready' || this.held.length > 0) return false;
    this.held = [begin];
    this.pausedForServer = true;
    this.updateReading();
    return true;
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
    if (this.phase === 'closed') return;
    if (this.context.settings.log_pooler_errors) this.log.warn({ sqlstate: error.sqlstate, reason }, `pooler error: ${error.message}`);
    if (this.socket.writable) this.socket.end(errorResponseFor(error, error.severity === 'ERROR' ? 'FATAL' : error.severity));
    this.close(reason);
  }

  close(reason: DisconnectReason): void {
    if (this.phase === 'closed') return;
    const wasLoggedIn = this.phase === 'ready';
    this.phase = 'closed';
    this.stream.stop();
    this.held = [];
    this.loginHeld = [];
    this.link?.close();
    if (!this.socket.destroyed) this.socket.destroySoon();
    this.context.onClientClosed(this);
    if (wasLoggedIn && this.context.settings.log_disconnections) {
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
    return this.link!.onHeader(code);
  }

  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    if (this.phase === 'ready' && this.link !== null) return this.link.onMessage(code, buffer, offset, total);
    if (this.phase === 'console') {
      this.console!.receive(buffer.subarray(offset, offset + total));
      return Disposition.Skip;
    }
    if (this.phase === 'auth' && code === FrontendCode.Password && this.authenticator !== null) {
      // What follows this message waits for the authenticator's answer, and after a login it is
      // work: read it in the phase this message leads to, never with the login's table.
      this.stream.pauseAfterCurrent();
      this.authBusy = true;
      this.authenticator.onPassword(Buffer.from(buffer.subarray(offset, offset + total)));
      return Disposition.Skip;
    }
    if (this.phase === 'auth' && code === FrontendCode.Terminate) {
      this.close('client_terminate');
      return Disposition.Skip;
    }
    this.fail(
      new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, `expected a password message during login, got message type ${describeCode(code)}`),
      'protocol_error',
    );
    return Disposition.Skip;
  }

  onFramingError(code: number, length: number): void {
    const small = this.phase === 'ready' && WORK_CODE_LIMITS[code]! > 0 && length > WORK_CODE_LIMITS[code]!;
    const limit = small
      ? `PostgreSQL's limit for this message type (${WORK_CODE_LIMITS[code]} bytes)`
      : `${this.phase === 'ready' ? 'max_packet_size' : this.phase === 'console' ? 'the console\'s limit' : 'the limit for login messages'} (${this.stream.maxMessageLength} bytes)`;
    const message =
      length < 4
        ? `client sent invalid message length ${length} for message type ${describeCode(code)}`
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
    switch (this.phase) {
      case 'ready':
        return this.onWorkData(chunk);
      case 'startup':
        return this.onStartupData(chunk);
      case 'auth':
        return this.onLoginData(chunk);
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

  /** a chunk during login: one password message at a time, the rest kept until it is answered */
  private onLoginData(chunk: Buffer): void {
    if (this.authBusy) {
      this.loginHeld.push(chunk);
      return;
    }
    this.stream.feed(chunk);
    const rest = this.stream.takeRest();
    if (rest === null) return;
    // still working on the message before it: keep it first in line; else the phase it led to reads it
    if (this.authBusy) this.loginHeld.unshift(rest);
    else this.onData(rest);
  }

  /** the authenticator answered (asked for more, or finished): read what the client sent meanwhile */
  private onAuthStep(): void {
    this.authBusy = false;
    const held = this.loginHeld;
    this.loginHeld = [];
    for (let i = 0; i < held.length; i++) {
      if (this.authBusy) {
        this.loginHeld.push(...held.slice(i));
        return;
      }
      this.onData(held[i]!);
    }
  }

  private onWorkData(chunk: Buffer): void {
    this.unansweredBegin = null;
    if (this.serverSocket !== null && this.held.length === 0) {
      this.feedWork(chunk, null);
      return;
    }
    this.held.push(chunk);
    const link = this.link!;
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
    this.unansweredBegin = held.length === 1 && this.pool!.replaysBegin && isLoneBegin(held[0]!) ? held[0]! : null;
    for (let i = 0; i < held.length; i++) {
      if (!this.feedWork(held[i]!, held.slice(i + 1))) return;
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
    if (this.phase === 'closed') return false;
    const rest = this.stream.takeRest();
    if (rest === null) return true;
    this.held = later === null ? [rest] : [rest, ...later];
    this.heldForAnswers = true;
    this.pausedForServer = true;
    this.updateReading();
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
    if (this.phase === 'closed') return;
    if (this.pausedForServer || this.pausedForPeer) this.socket.pause();
    else this.socket.resume();
  }

  // --- login

  private onStartupData(chunk: Buffer): void {
    // a TLS handshake record where a startup packet belongs: PostgreSQL 17's sslnegotiation=direct
    if (this.startupBytes === null && chunk[0] === TLS_HANDSHAKE_RECORD && !(this.socket instanceof tls.TLSSocket)) {
      if (this.context.clientTls !== null) return this.startTls(this.context.clientTls, chunk);
      return this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'direct TLS connection, but client_tls_sslmode = disable'), 'protocol_error');
    }
    let data = this.startupBytes === null ? chunk : Buffer.concat([this.startupBytes, chunk]);
    while (this.phase === 'startup') {
      if (data.length < 4) break;
      const length = data.readUInt32BE(0);
      if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH) {
        return this.fail(
          new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, `invalid startup packet length ${length}`),
          'protocol_error',
        );
      }
      if (data.length < length) break;
      const packet = data.subarray(0, length);
      data = data.subarray(length);
      const plain = !(this.socket instanceof tls.TLSSocket);
      this.onFirstMessage(packet);
      if (plain && this.socket instanceof tls.TLSSocket && data.length > 0) {
        // Bytes sent after SSLRequest but before the handshake were never encrypted: whoever sent
        // them could be anyone on the path (CVE-2021-23214), so they are never read.
        return this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'received unencrypted data after SSL request'), 'protocol_error');
      }
    }
    this.startupBytes = data.length > 0 && this.phase === 'startup' ? Buffer.from(data) : null;
    // Bytes after the startup packet (a pipelining client) belong to the next phase.
    if (this.phase !== 'startup' && this.phase !== 'closed' && data.length > 0) this.onData(Buffer.from(data));
  }

  private onFirstMessage(packet: Buffer): void {
    const first = decodeFirstMessage(packet);
    switch (first.kind) {
      case 'ssl':
        if (this.context.clientTls !== null && !(this.socket instanceof tls.TLSSocket)) {
          return this.startTls(this.context.clientTls, null);
        }
        this.socket.write(refuseEncryption);
        return;
      case 'gssenc':
        this.socket.write(refuseEncryption);
        return;
      case 'cancel':
        this.context.forwardCancel(first.processId, first.secretKey);
        this.phase = 'closed';
        this.context.onClientClosed(this);
        this.socket.destroySoon();
        return;
      case 'invalid':
        return this.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, first.reason), 'protocol_error');
      case 'startup':
        return this.onStartup(first.major, first.minor, first.parameters);
    }
  }

  private onStartup(major: number, minor: number, parameters: Map<string, string>): void {
    const tlsConfig = this.context.clientTls;
    if (tlsConfig !== null && tlsRequired(tlsConfig.mode) && !(this.socket instanceof tls.TLSSocket)) {
      return this.fail(
        new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, 'SSL required', 'FATAL', `client_tls_sslmode = ${tlsConfig.mode}`),
        'auth_failed',
      );
    }
    if (major !== 3) {
      return this.fail(
        new PoolerError(
          'UNSUPPORTED_PROTOCOL',
          SqlState.featureNotSupported,
          `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
        ),
        'protocol_error',
      );
    }
    let startup: ClientStartup;
    try {
      startup = checkStartupParameters(parameters, {
        trackExtra: this.context.settings.track_extra_parameters,
        ignore: this.context.settings.ignore_startup_parameters,
      });
    } catch (error) {
      return this.fail(error as PoolerError, 'unsupported_parameter');
    }
    this.startup = startup;
    if (minor > 0 || startup.protocolOptions.length > 0) {
      this.socket.write(negotiateProtocolVersion(0, startup.protocolOptions));
    }
    const database = this.context.findDatabase(startup.database, this);
    if (database instanceof PoolerError) return this.fail(database, 'no_such_database');
    const auth = this.context.chooseAuth({
      local: this.socket.remoteAddress === undefined,
      tls: this.socket instanceof tls.TLSSocket,
      database: startup.database,
      user: startup.user,
      replication: false,
      address: this.socket.remoteAddress ?? '',
    });
    if (auth instanceof PoolerError) return this.fail(auth, 'auth_failed');
    this.phase = 'auth';
    this.stream.table = LOGIN_TABLE;
    const secret = this.context.lookupSecret(startup.user);
    const needsSecret = auth.method !== 'any' && auth.method !== 'cert';
    const queried = needsSecret && secret === null && database !== CONSOLE ? this.context.querySecret(database, startup.user) : undefined;
    if (queried === undefined) return this.beginAuth(database, auth, secret);
    // the lookup runs first: anything the client sends meanwhile waits for it
    this.authBusy = true;
    queried.then(
      (found) => {
        if (this.phase !== 'auth') return;
        this.queriedSecret = found;
        this.beginAuth(database, auth, found);
      },
      (error: PoolerError) => this.fail(error, 'auth_failed'),
    );
  }

  private beginAuth(database: DatabaseConfig | typeof CONSOLE, auth: ChosenAuth, secret: string | null): void {
    const startup = this.startup!;
    this.authenticator = new ClientAuthenticator(auth.method, startup.user, {
      secret,
      certificateName: this.certificateName(),
      channelBinding: this.channelBinding(),
      certificateMap: auth.certificateMap,
      requireKnownUser: this.context.settings.auth_file !== null,
      send: (message) => {
        this.socket.write(message);
        this.onAuthStep();
      },
      done: (error) => {
        if (database === CONSOLE) this.onConsoleAuthenticated(error);
        else this.onAuthenticated(database, error);
        this.onAuthStep();
      },
      onScramKeys: (keys) => (this.scramKeys = keys),
    });
    this.authenticator.begin();
  }

  private onConsoleAuthenticated(error: PoolerError | null): void {
    this.authenticator = null;
    if (this.phase === 'closed') return;
    if (error !== null) return this.fail(error, 'auth_failed');
    const session = this.context.openConsole(this, this.startup!.user);
    if (session instanceof PoolerError) return this.fail(session, 'auth_failed');
    this.console = session;
    this.phase = 'console';
    this.stream.table = CONSOLE_TABLE;
    this.stream.maxMessageLength = MAX_CONSOLE_MESSAGE_LENGTH;
    const welcome = [authenticationOk, ...CONSOLE_PARAMETERS.map(([name, value]) => parameterStatus(name, value))];
    this.socket.write(Buffer.concat([...welcome, backendKeyData(this.processId, this.secretKey), readyForQueryIdle]));
    this.context.registerCancelKey(this);
    if (this.context.settings.log_connections) {
      this.log.info({ db: this.startup!.database, user: this.startup!.user, admin: session.user.admin }, 'login attempt: ok (console)');
    }
  }

  private onAuthenticated(database: DatabaseConfig, error: PoolerError | null): void {
    this.authenticator = null;
    if (this.phase === 'closed') return;
    if (error !== null) return this.fail(error, 'auth_failed');
    this.phase = 'welcome';
    const user = database.user ?? this.startup!.user;
    if (this.queriedSecret !== null && database.user === null) this.context.rememberQueriedSecret(database, user, this.queriedSecret);
    this.queriedSecret = null;
    const pool = this.context.poolFor(database, user);
    this.pool = pool;
    if (this.scramKeys !== null) pool.rememberScramKeys(this.scramKeys);
    this.scramKeys = null;
    this.link = pool.addClient(this);
  }

}
