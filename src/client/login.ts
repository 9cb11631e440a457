// A client's login, from its first byte to a pool or a console session: the startup packet (with
// SSLRequest, GSSENCRequest, CancelRequest and PostgreSQL 17's direct TLS), TLS, and authentication
// (an auth_query lookup, then the password exchange). Its connection gets a LoginResult, or a failure.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { DatabaseConfig, Settings } from '../config/types.js';
import { PoolerError, SqlState, type DisconnectReason } from '../errors.js';
import type { Logger } from '../log.js';
import { describeCode, Disposition, Treat, type PacketStream } from '../net/packet-stream.js';
import { acceptEncryption, negotiateProtocolVersion, refuseEncryption } from '../protocol/backend-messages.js';
import { CANCEL_REQUEST_CODE, FrontendCode, MAX_STARTUP_PACKET_LENGTH } from '../protocol/codes.js';
import { decodeFirstMessage, type FirstMessage } from '../protocol/decode.js';
import type { ScramClientKeys } from '../auth/scram-client.js';
import type { ChosenAuth } from '../auth/client-auth-rules.js';
import type { HbaConnection } from '../auth/hba.js';
import { tlsServerEndPoint } from '../auth/channel-binding.js';
import { peerCertificateVerified, tlsRequired, type ClientTls } from '../net/client-tls.js';
import { ClientAuthenticator } from './client-auth.js';
import type { ConsoleChannel } from './console-port.js';
import type { ClientPool } from './pool-port.js';
import { checkStartupParameters, type ClientStartup } from './startup-parameters.js';

/** what findDatabase returns for the console's names (pooler, pgbouncer) */
export const CONSOLE = Symbol('console');

/** what a login needs from the pooler around it; `C` is the client as the pooler knows it */
export interface LoginContext<C> {
  readonly settings: Settings;
  /** TLS toward clients, or null when client_tls_sslmode = disable */
  readonly clientTls: ClientTls | null;
  /** the login method for this connection: auth_type, or the matching auth_hba_file rule */
  chooseAuth(connection: HbaConnection): ChosenAuth | PoolerError;
  /** the stored secret for a user (auth_file, DATABASE_URL), or null */
  lookupSecret(user: string): string | null;
  /** auth_query's answer for a user missing from auth_file; undefined when no auth_user applies */
  querySecret(database: DatabaseConfig, user: string): Promise<string | null> | undefined;
  /** the user logged in against a secret from auth_query: servers log in with it too */
  rememberQueriedSecret(database: DatabaseConfig, user: string, secret: string): void;
  /** the database entry a client name maps to, CONSOLE for the admin console, or an error to send; `client` sent its startup packet */
  findDatabase(name: string, client: C): DatabaseConfig | typeof CONSOLE | PoolerError;
  /** a console session for an authenticated user, or the error that refuses them */
  openConsole(client: C, user: string): ConsoleChannel | PoolerError;
  poolFor(database: DatabaseConfig, user: string): ClientPool;
  /** a CancelRequest arrived on a new connection */
  forwardCancel(processId: number, secretKey: number): void;
}

/** how a login ends well: a console session, or a database and the pool the client works in */
export type LoginResult =
  | { readonly kind: 'console'; readonly startup: ClientStartup; readonly session: ConsoleChannel }
  | { readonly kind: 'database'; readonly startup: ClientStartup; readonly database: DatabaseConfig; readonly pool: ClientPool };

/** the connection a login runs on */
export interface LoginHost {
  /** the socket the client talks over: the TCP socket, or the TLS socket wrapped around it */
  readonly socket: Socket;
  /** reads the login messages after the startup packet (LOGIN_TABLE) */
  readonly stream: PacketStream;
  readonly log: Logger;
  /** the negotiated TLS version and cipher, for SHOW CLIENTS */
  tlsDescription: string;
  /** stop listening to the socket: TLS is about to take it over */
  detachSocket(): void;
  /** listen to `secure` from now on: the client talks over it */
  attachSocket(secure: tls.TLSSocket): void;
  /** bytes for whatever phase the connection is in now (this login's, or the one it led to) */
  receive(chunk: Buffer): void;
  loggedIn(result: LoginResult): void;
  fail(error: PoolerError, reason: DisconnectReason): void;
  close(reason: DisconnectReason): void;
}

/** during login every message is read whole: only PasswordMessage belongs there, anything else is refused */
export const LOGIN_TABLE = new Uint8Array(256).fill(Treat.Whole);

/** a TLS record of type handshake: the first byte of a ClientHello */
const TLS_HANDSHAKE_RECORD = 0x16;
const POSTGRESQL_ALPN = 'postgresql';

/** where a login stands */
type Step =
  /**
   * reading the startup packet; `pending` is the start of one cut off by a chunk boundary. An
   * SSLRequest or GSSENCRequest was answered (`sslDone`, `gssDone`): as in PostgreSQL, each may come
   * once, the other may follow a refusal, and TLS settles both.
   */
  | { readonly name: 'startup'; pending: Buffer | null; sslDone: boolean; gssDone: boolean }
  /** the startup packet is read: the database, the auth method and the secret are looked up (auth_query takes a while) */
  | { readonly name: 'lookup'; readonly startup: ClientStartup }
  /** the authenticator and the client exchange messages */
  | {
      readonly name: 'auth';
      readonly startup: ClientStartup;
      readonly authenticator: ClientAuthenticator;
      /** the secret auth_query found, handed to the pool once logged in */
      readonly queriedSecret: string | null;
      /** from a SCRAM login, for the pool (pass-through); not kept after that */
      scramKeys: ScramClientKeys | null;
    }
  /** logged in, refused or closed: nothing more is read here */
  | { readonly name: 'over'; readonly startup: ClientStartup | null };

export class Login<H extends LoginHost> {
  private step: Step = { name: 'startup', pending: null, sslDone: false, gssDone: false };
  /** the authenticator (or the auth_query lookup) is working on the client's last message */
  private busy = false;
  /** what the client sent after a message the authenticator was still working on */
  private held: Buffer[] = [];
  /** the client presented a certificate that verified against client_tls_ca_file */
  private certificateVerified = false;

  constructor(
    private readonly host: H,
    private readonly context: LoginContext<H>,
  ) {}

  /** the client's startup parameters, once its startup packet is read */
  get startup(): ClientStartup | null {
    return this.step.name === 'startup' ? null : this.step.startup;
  }

  private get overTls(): boolean {
    return this.host.socket instanceof tls.TLSSocket;
  }

  /** a chunk from the client while it logs in */
  receive(chunk: Buffer): void {
    if (this.step.name === 'startup') this.onStartupData(chunk, this.step);
    else this.onLoginData(chunk);
  }

  /** a whole login message (LOGIN_TABLE reads every one whole) */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    const step = this.step;
    if (step.name === 'auth' && code === FrontendCode.Password) {
      // What follows this message waits for the authenticator's answer, and after a login it is
      // work: read it in the phase this message leads to, never with the login's table.
      this.host.stream.pauseAfterCurrent();
      this.busy = true;
      step.authenticator.onPassword(Buffer.from(buffer.subarray(offset, offset + total)));
      return Disposition.Skip;
    }
    if ((step.name === 'lookup' || step.name === 'auth') && code === FrontendCode.Terminate) {
      this.host.close('client_terminate');
      return Disposition.Skip;
    }
    this.host.fail(
      new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, `expected a password message during login, got message type ${describeCode(code)}`),
      'protocol_error',
    );
    return Disposition.Skip;
  }

  /** the connection closed: nothing held is read any more */
  stop(reason: DisconnectReason): void {
    const step = this.step;
    if (step.name === 'startup' && step.pending !== null && reason === 'client_close' && this.context.settings.log_pooler_errors) {
      this.host.log.info({ received: step.pending.length }, 'incomplete startup packet');
    }
    this.step = { name: 'over', startup: this.startup };
    this.held = [];
  }

  /**
   * What PostgreSQL refuses with a COMMERROR: logged (never the bytes), nothing sent, the
   * connection closed. Whatever sent it is not speaking the protocol, or has gone already.
   */
  private closeSilently(message: string, details: Record<string, number> = {}): void {
    if (this.context.settings.log_pooler_errors) this.host.log.info(details, `${message}; closed without a reply, as PostgreSQL does`);
    this.host.close('protocol_error');
  }

  // --- startup packet

  private onStartupData(chunk: Buffer, step: Extract<Step, { name: 'startup' }>): void {
    const host = this.host;
    // A TLS handshake record as the connection's first byte: PostgreSQL 17's sslnegotiation=direct.
    // Without TLS, PostgreSQL closes without a word (and later, 0x16 would read as a huge length).
    if (step.pending === null && !step.sslDone && !step.gssDone && chunk[0] === TLS_HANDSHAKE_RECORD && !this.overTls) {
      if (this.context.clientTls !== null) return this.startTls(this.context.clientTls, chunk);
      return this.closeSilently('direct TLS connection, but client_tls_sslmode = disable');
    }
    let data = step.pending === null ? chunk : Buffer.concat([step.pending, chunk]);
    while (this.step === step) {
      if (data.length < 4) break;
      const length = data.readUInt32BE(0);
      // PostgreSQL's bounds are on what follows the length field. Past them, or below the 4 bytes
      // of a version, it is not a startup packet: node-postgres's end() before its connect()
      // finished sends a Terminate here (length 0x58000000), and must not get an error back.
      if (length - 4 < 4 || length - 4 > MAX_STARTUP_PACKET_LENGTH) return this.closeSilently('invalid length of startup packet', { length });
      if (data.length < length) break;
      const packet = data.subarray(0, length);
      data = data.subarray(length);
      const kind = this.onFirstMessage(packet, step);
      if ((kind === 'ssl' || kind === 'gssenc') && this.step === step && data.length > 0) {
        // Bytes sent after SSLRequest but before the handshake were never encrypted: whoever sent
        // them could be anyone on the path (CVE-2021-23214), so they are never read. PostgreSQL
        // refuses them after a refusal ('N') too.
        const request = kind === 'ssl' ? 'SSL request' : 'GSSAPI encryption request';
        return host.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, `received unencrypted data after ${request}`), 'protocol_error');
      }
    }
    if (this.step === step) {
      step.pending = data.length > 0 ? Buffer.from(data) : null;
      return;
    }
    // Bytes after the startup packet (a pipelining client) belong to the next phase.
    if (data.length > 0) host.receive(Buffer.from(data));
  }

  /** one untyped message read whole; its kind, for what may follow it */
  private onFirstMessage(packet: Buffer, step: Extract<Step, { name: 'startup' }>): FirstMessage['kind'] {
    const first = decodeFirstMessage(packet);
    const host = this.host;
    switch (first.kind) {
      case 'ssl':
        // a second one reads as a protocol version, as in PostgreSQL
        if (step.sslDone) this.refuseProtocol(packet.readUInt16BE(4), packet.readUInt16BE(6));
        else this.onEncryptionRequest(first.kind, step);
        return first.kind;
      case 'gssenc':
        if (step.gssDone) this.refuseProtocol(packet.readUInt16BE(4), packet.readUInt16BE(6));
        else this.onEncryptionRequest(first.kind, step);
        return first.kind;
      case 'cancel':
        // nothing goes back to the client, as PostgreSQL does
        this.context.forwardCancel(first.processId, first.secretKey);
        host.close('client_close');
        return first.kind;
      case 'invalid':
        if (packet.readUInt32BE(4) === CANCEL_REQUEST_CODE) this.closeSilently('invalid length of cancel request', { length: packet.length });
        else host.fail(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, first.reason), 'protocol_error');
        return first.kind;
      case 'startup':
        this.onStartup(first.major, first.minor, first.parameters);
        return first.kind;
    }
  }

  /** SSLRequest: TLS when configured (which settles GSS too), else 'N'; GSSENCRequest: always 'N' */
  private onEncryptionRequest(kind: 'ssl' | 'gssenc', step: Extract<Step, { name: 'startup' }>): void {
    if (kind === 'gssenc') {
      step.gssDone = true;
      this.host.socket.write(refuseEncryption);
      return;
    }
    step.sslDone = true;
    if (this.context.clientTls === null || this.overTls) {
      this.host.socket.write(refuseEncryption);
      return;
    }
    step.gssDone = true;
    this.startTls(this.context.clientTls, null);
  }

  /** a version other than 3.x, or a repeated encryption request: PostgreSQL's FATAL */
  private refuseProtocol(major: number, minor: number): void {
    this.host.fail(
      new PoolerError('UNSUPPORTED_PROTOCOL', SqlState.featureNotSupported, `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`),
      'protocol_error',
    );
  }

  /**
   * Continue over TLS; the TLS socket takes over the TCP one. After an SSLRequest we answer 'S'
   * first; with PostgreSQL 17's direct TLS (`hello`: the ClientHello already read) there is no
   * request, and ALPN must say "postgresql", as PostgreSQL insists.
   */
  private startTls(tlsConfig: ClientTls, hello: Buffer | null): void {
    const host = this.host;
    const raw = host.socket;
    if (hello === null) raw.write(acceptEncryption);
    host.detachSocket();
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
      host.tlsDescription = `${secure.getProtocol() ?? 'TLS'}/${secure.getCipher()?.name ?? ''}`;
      this.certificateVerified = peerCertificateVerified(secure);
      if (tlsConfig.verifyClient && !this.certificateVerified) {
        host.fail(new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, 'the client certificate did not verify against client_tls_ca_file'), 'auth_failed');
      } else if (hello !== null && secure.alpnProtocol !== POSTGRESQL_ALPN) {
        this.closeSilently('direct TLS connection without ALPN "postgresql"');
      }
    });
    host.attachSocket(secure);
    if (hello !== null) secure.resume();
  }

  // --- authentication

  private onStartup(major: number, minor: number, parameters: Map<string, string>): void {
    const host = this.host;
    const context = this.context;
    // the version first: PostgreSQL refuses it before it looks at SSL (pg_hba.conf)
    if (major !== 3) return this.refuseProtocol(major, minor);
    const tlsConfig = context.clientTls;
    if (tlsConfig !== null && tlsRequired(tlsConfig.mode) && !this.overTls) {
      return host.fail(
        new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, 'SSL required', 'FATAL', `client_tls_sslmode = ${tlsConfig.mode}`),
        'auth_failed',
      );
    }
    let startup: ClientStartup;
    try {
      startup = checkStartupParameters(parameters, {
        trackExtra: context.settings.track_extra_parameters,
        ignore: context.settings.ignore_startup_parameters,
      });
    } catch (error) {
      return host.fail(error as PoolerError, 'unsupported_parameter');
    }
    const step: Step = { name: 'lookup', startup };
    this.step = step;
    if (minor > 0 || startup.protocolOptions.length > 0) {
      host.socket.write(negotiateProtocolVersion(0, startup.protocolOptions));
    }
    const database = context.findDatabase(startup.database, host);
    if (database instanceof PoolerError) return host.fail(database, 'no_such_database');
    const auth = context.chooseAuth({
      local: host.socket.remoteAddress === undefined,
      tls: this.overTls,
      database: startup.database,
      user: startup.user,
      replication: false,
      address: host.socket.remoteAddress ?? '',
    });
    if (auth instanceof PoolerError) return host.fail(auth, 'auth_failed');
    host.stream.table = LOGIN_TABLE;
    const secret = context.lookupSecret(startup.user);
    const needsSecret = auth.method !== 'any' && auth.method !== 'cert';
    const queried = needsSecret && secret === null && database !== CONSOLE ? context.querySecret(database, startup.user) : undefined;
    if (queried === undefined) return this.beginAuth(startup, database, auth, secret, null);
    // the lookup runs first: anything the client sends meanwhile waits for it
    this.busy = true;
    queried.then(
      (found) => {
        if (this.step !== step) return;
        this.beginAuth(startup, database, auth, found, found);
      },
      (error: PoolerError) => host.fail(error, 'auth_failed'),
    );
  }

  private beginAuth(
    startup: ClientStartup,
    database: DatabaseConfig | typeof CONSOLE,
    auth: ChosenAuth,
    secret: string | null,
    queriedSecret: string | null,
  ): void {
    const host = this.host;
    const authenticator = new ClientAuthenticator(auth.method, startup.user, {
      secret,
      certificateName: this.certificateName(),
      channelBinding: this.channelBinding(),
      certificateMap: auth.certificateMap,
      requireKnownUser: this.context.settings.auth_file !== null,
      send: (message) => {
        host.socket.write(message);
        this.onAuthStep();
      },
      done: (error) => {
        this.onAuthenticated(database, error);
        this.onAuthStep();
      },
      onScramKeys: (keys) => {
        if (this.step.name === 'auth') this.step.scramKeys = keys;
      },
    });
    this.step = { name: 'auth', startup, authenticator, queriedSecret, scramKeys: null };
    authenticator.begin();
  }

  /** the authenticator finished: the login's result goes to the connection, or its failure */
  private onAuthenticated(database: DatabaseConfig | typeof CONSOLE, error: PoolerError | null): void {
    const step = this.step;
    if (step.name !== 'auth') return;
    const host = this.host;
    const startup = step.startup;
    this.step = { name: 'over', startup };
    if (error !== null) return host.fail(error, 'auth_failed');
    if (database === CONSOLE) {
      const session = this.context.openConsole(host, startup.user);
      if (session instanceof PoolerError) return host.fail(session, 'auth_failed');
      return host.loggedIn({ kind: 'console', startup, session });
    }
    const user = database.user ?? startup.user;
    if (step.queriedSecret !== null && database.user === null) this.context.rememberQueriedSecret(database, user, step.queriedSecret);
    const pool = this.context.poolFor(database, user);
    if (step.scramKeys !== null) pool.rememberScramKeys(step.scramKeys);
    host.loggedIn({ kind: 'database', startup, database, pool });
  }

  /** a chunk during authentication: one password message at a time, the rest kept until it is answered */
  private onLoginData(chunk: Buffer): void {
    if (this.busy) {
      this.held.push(chunk);
      return;
    }
    const stream = this.host.stream;
    stream.feed(chunk);
    const rest = stream.takeRest();
    if (rest === null) return;
    // still working on the message before it: keep it first in line; else the phase it led to reads it
    if (this.busy) this.held.unshift(rest);
    else this.host.receive(rest);
  }

  /** the authenticator answered (asked for more, or finished): read what the client sent meanwhile */
  private onAuthStep(): void {
    this.busy = false;
    const held = this.held;
    this.held = [];
    let next = 0;
    for (const chunk of held) {
      if (this.busy) {
        this.held.push(...held.slice(next));
        return;
      }
      this.host.receive(chunk);
      next++;
    }
  }

  /** over TLS, what SCRAM-SHA-256-PLUS binds to: the hash of the certificate we presented */
  private channelBinding(): Buffer | null {
    const socket = this.host.socket;
    if (!(socket instanceof tls.TLSSocket)) return null;
    const own = socket.getCertificate();
    return own !== null && 'raw' in own ? tlsServerEndPoint(own.raw) : null;
  }

  /** the CN of a client certificate that verified against client_tls_ca_file; null without one */
  private certificateName(): string | null {
    const socket = this.host.socket;
    if (!(socket instanceof tls.TLSSocket) || !this.certificateVerified) return null;
    const cn = socket.getPeerCertificate().subject?.CN;
    return typeof cn === 'string' ? cn : null;
  }
}
