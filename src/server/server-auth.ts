// Answers a server's Authentication requests during login: trust, cleartext, md5 and
// SCRAM-SHA-256, with the password the pooler holds for the user — or, when auth_file holds a
// SCRAM secret, with the keys a client's own SCRAM login recovered. Never logs a password or key.
import { md5Response } from '../auth/md5.js';
import { ScramClient, type ScramClientKeys } from '../auth/scram-client.js';
import { parseScramSecret } from '../auth/secrets.js';
import { PoolerError, SqlState } from '../errors.js';
import { AuthCode, HEADER_LENGTH } from '../protocol/codes.js';

/** where an Authentication message's data starts: after the header and its int32 sub-code */
const AUTH_DATA = HEADER_LENGTH + 4;
import { passwordMessage, saslInitialResponse, saslResponse } from '../protocol/frontend-messages.js';

const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export class ServerAuthenticator {
  private scram: ScramClient | null = null;

  /** auth_file holds a SCRAM secret, not a password: only SCRAM with recovered keys can work */
  private readonly secretIsScram: boolean;

  constructor(
    private readonly user: string,
    private readonly password: string | null,
    private readonly scramKeys: ScramClientKeys | null = null,
  ) {
    this.secretIsScram = password !== null && parseScramSecret(password) !== null;
  }

  /**
   * The reply to one Authentication message (whole message, header included), or null if none is
   * due; rejects with a 08006 PoolerError that ends the login.
   */
  async handle(message: Buffer): Promise<Buffer | null> {
    try {
      return await this.reply(message);
    } catch (error) {
      if (error instanceof PoolerError) throw error;
      throw new PoolerError('SERVER_LOGIN_FAILED', SqlState.connectionFailure, (error as Error).message);
    }
  }

  private async reply(message: Buffer): Promise<Buffer | null> {
    const code = message.readInt32BE(HEADER_LENGTH);
    switch (code) {
      case AuthCode.Ok: {
        const unproven = this.unprovenLogin();
        if (unproven !== null) throw unproven;
        return null;
      }
      case AuthCode.CleartextPassword:
        return passwordMessage(this.requirePassword('password'));
      case AuthCode.MD5Password:
        return passwordMessage(md5Response(this.user, this.requirePassword('md5'), message.subarray(AUTH_DATA, AUTH_DATA + 4)));
      case AuthCode.SASL: {
        const mechanisms = message.toString('utf8', AUTH_DATA).split('\0').filter(Boolean);
        if (!mechanisms.includes(SCRAM_MECHANISM)) {
          throw new Error(`server offers SASL mechanisms ${mechanisms.join(', ')}; pooler supports ${SCRAM_MECHANISM}`);
        }
        if (this.secretIsScram) this.requireScramKeys();
        else this.requirePassword('scram-sha-256');
        this.scram = new ScramClient();
        return saslInitialResponse(SCRAM_MECHANISM, Buffer.from(this.scram.start()));
      }
      case AuthCode.SASLContinue: {
        if (this.scram === null) throw new Error('server sent SASLContinue before SASL');
        const credentials = this.secretIsScram ? this.requireScramKeys() : this.requirePassword('scram-sha-256');
        const reply = await this.scram.continue(message.toString('utf8', AUTH_DATA), credentials);
        return saslResponse(Buffer.from(reply));
      }
      case AuthCode.SASLFinal:
        if (this.scram === null) throw new Error('server sent SASLFinal before SASL');
        this.scram.finish(message.toString('utf8', AUTH_DATA));
        return null;
      default:
        throw new Error(`server asks for an authentication method pooler does not support (code ${code})`);
    }
  }

  /**
   * Synchronously, for the caller to ask at AuthenticationOk or ReadyForQuery (handle() reports a
   * failure a microtask later): why the login must not complete, or null. Only SASLFinal's
   * signature shows that a SCRAM server holds the secret; an Ok without it (or after a bad one)
   * could come from anyone between us and PostgreSQL.
   */
  unprovenLogin(): PoolerError | null {
    if (this.scram === null || this.scram.isComplete) return null;
    return new PoolerError(
      'SERVER_LOGIN_FAILED',
      SqlState.connectionFailure,
      'server sent AuthenticationOk before a valid AuthenticationSASLFinal: it never proved it holds the SCRAM secret',
    );
  }

  private requireScramKeys(): ScramClientKeys {
    if (this.scramKeys === null) {
      throw new Error(
        `auth_file holds a SCRAM secret for user "${this.user}", which logs in to PostgreSQL only with the key ` +
          'a client proves when it logs in to pooler with SCRAM; none has yet (or it used another method)',
      );
    }
    return this.scramKeys;
  }

  private requirePassword(method: string): string {
    if (this.secretIsScram) {
      throw new Error(`server asks for ${method} authentication for user "${this.user}", but auth_file holds only a SCRAM secret for it`);
    }
    if (this.password === null || this.password === '') {
      throw new Error(
        `server requires ${method} authentication for user "${this.user}" but pooler has no password for it; ` +
          'add the user to auth_file or set password= in the [databases] entry',
      );
    }
    return this.password;
  }
}
