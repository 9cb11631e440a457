// Client authentication for the login phase: trust, any, plain (cleartext), md5 and SCRAM-SHA-256
// against the stored secret (auth_file, auth_query or DATABASE_URL), and cert (the TLS client
// certificate's name). Unknown users go through the same exchange and fail the same way, so a
// client cannot tell which user names exist.
import { randomBytes } from 'node:crypto';
import type { AuthType } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import { verifyMd5Response } from '../auth/md5.js';
import { verifyPlainPassword } from '../auth/verify-password.js';
import { classifySecret } from '../auth/secrets.js';
import { ScramError, type ScramClientKeys } from '../auth/scram-client.js';
import { SCRAM_MECHANISM, SCRAM_PLUS_MECHANISM, ScramServerExchange } from '../auth/scram-server.js';
import {
  authenticationCleartext,
  authenticationMd5,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
} from '../protocol/backend-messages.js';

/** auth_type, or what an hba rule says for this connection */
export type ClientAuthMethod = Exclude<AuthType, 'hba'>;

export interface ClientAuthOptions {
  secret: string | null;
  /** over TLS: the tls-server-end-point hash of the pooler's certificate, so SCRAM-SHA-256-PLUS is offered */
  channelBinding: Buffer | null;
  /** cert: the CN of a client certificate that verified against client_tls_ca_file, else null */
  certificateName: string | null;
  /** cert with an ident map (map=): may this certificate name log in as the user? null: only as itself */
  certificateMap: ((name: string) => boolean) | null;
  /** with an auth_file configured, even trust requires the user to be listed */
  requireKnownUser: boolean;
  send(message: Buffer): void;
  done(error: PoolerError | null): void;
  /** a SCRAM login succeeded: the client's key, for logging in to PostgreSQL on its behalf */
  onScramKeys?(keys: ScramClientKeys): void;
}

export class ClientAuthenticator {
  private salt: Buffer | null = null;
  /** SASL offered; the exchange starts with the mechanism the client picks */
  private scram = false;
  private exchange: ScramServerExchange | null = null;
  private finished = false;

  constructor(
    private readonly method: ClientAuthMethod,
    private readonly user: string,
    private readonly options: ClientAuthOptions,
  ) {}

  begin(): void {
    switch (this.method) {
      case 'any':
        return this.finish(null);
      case 'trust':
        if (this.options.requireKnownUser && this.options.secret === null) {
          return this.finish(
            new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, `no such user: "${this.user}" is not in auth_file`),
          );
        }
        return this.finish(null);
      case 'plain':
        this.options.send(authenticationCleartext);
        return;
      case 'cert':
        return this.finish(this.checkCertificate());
      case 'md5': {
        // as PostgreSQL and PgBouncer: a user whose stored secret is SCRAM is asked for SCRAM
        const secret = this.options.secret === null ? null : classifySecret(this.options.secret);
        if (secret?.kind === 'scram') return this.beginScram();
        this.salt = randomBytes(4);
        this.options.send(authenticationMd5(this.salt));
        return;
      }
      case 'scram-sha-256': {
        const secret = this.options.secret === null ? null : classifySecret(this.options.secret);
        if (secret?.kind === 'md5') {
          return this.finish(
            new PoolerError(
              'AUTH_FAILED',
              SqlState.invalidPassword,
              `password authentication failed for user "${this.user}"`,
              'FATAL',
              'an md5 secret cannot be checked with SCRAM: store the plaintext password or a SCRAM secret in auth_file',
            ),
          );
        }
        return this.beginScram();
      }
    }
  }

  /** as PostgreSQL's cert method: a verified certificate whose CN is the user (or maps to it) */
  private checkCertificate(): PoolerError | null {
    const name = this.options.certificateName;
    if (name === null) {
      return new PoolerError('AUTH_FAILED', SqlState.invalidAuthorization, 'connection requires a valid client certificate');
    }
    const map = this.options.certificateMap;
    if (map === null ? name === this.user : map(name)) return null;
    return new PoolerError(
      'AUTH_FAILED',
      SqlState.invalidAuthorization,
      `certificate authentication failed for user "${this.user}"`,
      'FATAL',
      map === null
        ? `the certificate's name "${name}" is not the user name`
        : `the certificate's name "${name}" may not log in as "${this.user}" under the ident map`,
    );
  }

  private beginScram(): void {
    this.scram = true;
    const mechanisms = this.options.channelBinding === null ? [SCRAM_MECHANISM] : [SCRAM_PLUS_MECHANISM, SCRAM_MECHANISM];
    this.options.send(authenticationSasl(mechanisms));
  }

  /** SASLInitialResponse, then SASLResponse: both arrive as 'p' messages */
  private async onScramMessage(message: Buffer): Promise<void> {
    let exchange = this.exchange;
    if (exchange === null) {
      const end = message.indexOf(0, 5);
      if (end < 0 || end + 5 > message.length) throw new ScramError('malformed SASLInitialResponse');
      const mechanism = message.toString('utf8', 5, end);
      const plus = mechanism === SCRAM_PLUS_MECHANISM && this.options.channelBinding !== null;
      if (mechanism !== SCRAM_MECHANISM && !plus) throw new ScramError(`unsupported SASL mechanism "${mechanism}"; use ${SCRAM_MECHANISM}`);
      const secret = this.options.secret === null ? null : classifySecret(this.options.secret);
      exchange = new ScramServerExchange(secret, { user: this.user, channelBinding: this.options.channelBinding, plus });
      this.exchange = exchange;
      const length = message.readInt32BE(end + 1);
      const data = message.toString('utf8', end + 5, end + 5 + Math.max(0, length));
      this.options.send(authenticationSaslContinue(await exchange.first(data)));
      return;
    }
    const result = exchange.final(message.toString('utf8', 5));
    this.options.onScramKeys?.({ clientKey: result.clientKey, serverKey: result.serverKey });
    this.options.send(authenticationSaslFinal(result.serverFinal));
    this.finish(null);
  }

  /** a PasswordMessage ('p'), header included */
  onPassword(message: Buffer): void {
    if (this.finished) return;
    if (this.scram) {
      this.onScramMessage(message).catch((error: unknown) => {
        // a malformed message is a protocol error; a wrong proof is a wrong password
        const malformed = error instanceof ScramError && !/proof does not match/.test(error.message);
        this.finish(malformed ? new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, error.message) : this.failure());
      });
      return;
    }
    const end = message.indexOf(0, 5);
    const answer = message.toString('utf8', 5, end < 0 ? message.length : end);
    const secret = this.options.secret;
    if (this.method === 'md5' && this.salt !== null) {
      const ok = secret !== null && verifyMd5Response(secret, this.user, this.salt, answer);
      return this.finish(ok ? null : this.failure());
    }
    if (this.method === 'plain') {
      if (secret === null || answer === '') return this.finish(this.failure());
      verifyPlainPassword(secret, this.user, answer).then(
        (ok) => this.finish(ok ? null : this.failure()),
        () => this.finish(this.failure()),
      );
      return;
    }
    this.finish(new PoolerError('PROTOCOL_VIOLATION', SqlState.protocolViolation, 'unexpected password message'));
  }

  private failure(): PoolerError {
    return new PoolerError(
      'AUTH_FAILED',
      SqlState.invalidPassword,
      `password authentication failed for user "${this.user}"`,
    );
  }

  private finish(error: PoolerError | null): void {
    if (this.finished) return;
    this.finished = true;
    this.options.done(error);
  }
}
