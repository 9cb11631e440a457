// Client authentication for the login phase: trust, any, plain (cleartext) and md5 against the
// stored secret (auth_file or DATABASE_URL). Unknown users go through the same exchange and fail
// the same way, so a client cannot tell which user names exist.
import { randomBytes } from 'node:crypto';
import type { AuthType } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import { verifyMd5Response } from '../auth/md5.js';
import { verifyPlainPassword } from '../auth/verify-password.js';
import { classifySecret } from '../auth/secrets.js';
import { authenticationCleartext, authenticationMd5 } from '../protocol/backend-messages.js';

export interface ClientAuthOptions {
  secret: string | null;
  /** with an auth_file configured, even trust requires the user to be listed */
  requireKnownUser: boolean;
  send(message: Buffer): void;
  done(error: PoolerError | null): void;
}

export class ClientAuthenticator {
  private salt: Buffer | null = null;
  private finished = false;

  constructor(
    private readonly method: AuthType,
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
      case 'md5': {
        const secret = this.options.secret === null ? null : classifySecret(this.options.secret);
        if (secret?.kind === 'scram') {
          return this.finish(
            new PoolerError(
              'AUTH_FAILED',
              SqlState.featureNotSupported,
              `user "${this.user}" has a SCRAM secret; pooler cannot check it with md5 and SCRAM client authentication is not implemented yet`,
              'FATAL',
              'store a plaintext or md5 secret for this user in auth_file, or use auth_type = plain',
            ),
          );
        }
        this.salt = randomBytes(4);
        this.options.send(authenticationMd5(this.salt));
        return;
      }
      default:
        return this.finish(
          new PoolerError(
            'AUTH_FAILED',
            SqlState.featureNotSupported,
            `auth_type = ${this.method} is not implemented yet; use trust, any, plain or md5`,
          ),
        );
    }
  }

  /** a PasswordMessage ('p'), header included */
  onPassword(message: Buffer): void {
    if (this.finished) return;
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
