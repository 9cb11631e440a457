// The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) that checks a client logging in to the
// pooler: against a SCRAM secret, or a plaintext password turned into keys with a fresh salt. Over
// TLS, SCRAM-SHA-256-PLUS binds the exchange to the pooler's certificate (tls-server-end-point).
// @see https://www.postgresql.org/docs/current/sasl-authentication.html
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64Strict } from './base64.js';
import { DEFAULT_SCRAM_ITERATIONS, deriveScramKeys, hmacSha256, SCRAM_KEY_LENGTH, sha256 } from './scram-keys.js';
import type { StoredSecret } from './secrets.js';
import { ScramError } from './scram-client.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
export const SCRAM_PLUS_MECHANISM = 'SCRAM-SHA-256-PLUS';
const CHANNEL_BINDING_TYPE = 'tls-server-end-point';
const RAW_NONCE_LENGTH = 18;
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

interface Verifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface ScramServerResult {
  /** server-final-message: "v=<ServerSignature>" */
  serverFinal: string;
  /** the client's ClientKey, recovered from its proof: what logs in to PostgreSQL for it (pass-through) */
  clientKey: Buffer;
  serverKey: Buffer;
  salt: Buffer;
  iterations: number;
}

/**
 * One exchange: first(clientFirst) → server-first-message, final(clientFinal) → the result, or a
 * ScramError. A user with no usable secret still gets a server-first-message with a made-up salt,
 * as PostgreSQL does, and fails only at the proof, so user names cannot be probed.
 */
export class ScramServerExchange {
  private verifier: Verifier | null = null;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';

  /** the channel-binding data the client must send back in client-final-message ("c=") */
  private bindingData: Buffer = Buffer.alloc(0);

  /**
   * `channelBinding`: over TLS, the tls-server-end-point hash of our certificate (we offered
   * -PLUS); `plus`: the client chose SCRAM-SHA-256-PLUS.
   */
  constructor(
    private readonly secret: StoredSecret | null,
    private readonly options: { serverNonce?: string; user?: string; channelBinding?: Buffer | null; plus?: boolean } = {},
  ) {}

  async first(clientFirst: string): Promise<string> {
    const match = /^(n|y|p=([^,]*)),(?:a=[^,]*)?,(n=[^,]*,r=([^,]+)(?:,.*)?)$/.exec(clientFirst);
    if (match === null) throw new ScramError('malformed SCRAM client-first-message');
    this.checkBindingFlag(match[1]!, match[2]);
    const clientNonce = match[4]!;
    if (!PRINTABLE.test(clientNonce)) throw new ScramError('malformed SCRAM client nonce');
    this.gs2Header = clientFirst.slice(0, clientFirst.length - match[3]!.length);
    this.clientFirstBare = match[3]!;
    this.verifier = await verifierFor(this.secret, this.options.user ?? '');
    this.nonce = clientNonce + (this.options.serverNonce ?? randomBytes(RAW_NONCE_LENGTH).toString('base64'));
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** PostgreSQL's rules for the gs2 flag, which also keep a man in the middle from stripping -PLUS */
  private checkBindingFlag(flag: string, type: string | undefined): void {
    const binding = this.options.channelBinding ?? null;
    if (this.options.plus === true) {
      if (type === undefined) {
        throw new ScramError(`the client selected ${SCRAM_PLUS_MECHANISM}, but the SCRAM message does not include channel binding data`);
      }
      if (type !== CHANNEL_BINDING_TYPE) throw new ScramError(`unsupported SCRAM channel-binding type "${type}"`);
      if (binding === null) throw new ScramError('channel binding needs a TLS connection');
      this.bindingData = binding;
      return;
    }
    if (type !== undefined) {
      throw new ScramError(`the client selected ${SCRAM_MECHANISM} without channel binding, but the SCRAM message includes channel binding data`);
    }
    // "y": the client can bind but thinks we cannot; over TLS we offered -PLUS, so it was tampered with
    if (flag === 'y' && binding !== null) {
      throw new ScramError('SCRAM channel binding negotiation error: the client supports channel binding but thinks the server does not, and this server does');
    }
  }

  final(clientFinal: string): ScramServerResult {
    const verifier = this.verifier;
    if (verifier === null) throw new ScramError('SCRAM client-final-message before client-first-message');
    const match = /^c=([^,]*),r=([^,]*)(?:,.*)?,p=([^,]+)$/.exec(clientFinal);
    if (match === null) throw new ScramError('malformed SCRAM client-final-message');
    const expected = Buffer.concat([Buffer.from(this.gs2Header), this.bindingData]).toString('base64');
    if (match[1] !== expected) throw new ScramError('SCRAM channel binding check failed');
    if (match[2] !== this.nonce) throw new ScramError('SCRAM nonce does not match');
    const proof = decodeBase64Strict(match[3]!);
    if (proof === null || proof.length !== SCRAM_KEY_LENGTH) throw new ScramError('malformed SCRAM client proof');
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmacSha256(verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(SCRAM_KEY_LENGTH);
    for (let i = 0; i < SCRAM_KEY_LENGTH; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), verifier.storedKey) || !canCheck(this.secret)) {
      throw new ScramError('SCRAM proof does not match');
    }
    return {
      serverFinal: `v=${hmacSha256(verifier.serverKey, authMessage).toString('base64')}`,
      clientKey,
      serverKey: verifier.serverKey,
      salt: verifier.salt,
      iterations: verifier.iterations,
    };
  }
}

/**
 * Keys derived from plaintext auth_file passwords, so a login storm runs PBKDF2 (4096 rounds, on
 * libuv's thread pool) once per password rather than once per login. A salt reused across logins
 * of one password is what a stored SCRAM secret is anyway. Bounded, oldest out first.
 */
const derivedVerifiers = new Map<string, Promise<Verifier>>();
const MAX_DERIVED_VERIFIERS = 10_000;

function plainVerifier(password: string): Promise<Verifier> {
  let verifier = derivedVerifiers.get(password);
  if (verifier === undefined) {
    const salt = randomBytes(16);
    verifier = deriveScramKeys(password, salt, DEFAULT_SCRAM_ITERATIONS).then((keys) => ({
      salt,
      iterations: DEFAULT_SCRAM_ITERATIONS,
      storedKey: keys.storedKey,
      serverKey: keys.serverKey,
    }));
    if (derivedVerifiers.size >= MAX_DERIVED_VERIFIERS) derivedVerifiers.delete(derivedVerifiers.keys().next().value!);
    derivedVerifiers.set(password, verifier);
  }
  return verifier;
}

/**
 * Whether a proof may log in against `secret`: not without one, not with an md5 hash (SCRAM cannot
 * use it), and not with an empty plaintext password, which md5 and plain refuse as well; those
 * get made-up keys and fail at the proof like a wrong password.
 */
function canCheck(secret: StoredSecret | null): boolean {
  return secret !== null && secret.kind !== 'md5' && !(secret.kind === 'plain' && secret.password === '');
}

/** makes the made-up salt of an unknown user the same on every try, as PostgreSQL's mock salt is */
const MOCK_SALT_KEY = randomBytes(32);

/**
 * The keys to check against: the stored SCRAM secret, keys from a plaintext password, or random
 * keys that match nothing, with a salt that stays the same per user name, so a salt that changed
 * between two tries would not tell that the user does not exist.
 */
async function verifierFor(secret: StoredSecret | null, user: string): Promise<Verifier> {
  if (secret?.kind === 'scram') return secret;
  if (secret?.kind === 'plain' && canCheck(secret)) return plainVerifier(secret.password);
  const salt = hmacSha256(MOCK_SALT_KEY, user).subarray(0, 16);
  return { salt, iterations: DEFAULT_SCRAM_ITERATIONS, storedKey: randomBytes(SCRAM_KEY_LENGTH), serverKey: randomBytes(SCRAM_KEY_LENGTH) };
}
