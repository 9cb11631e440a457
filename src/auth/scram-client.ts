// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) that the pooler uses to log in to
// PostgreSQL, without channel binding (gs2 header "n,,"), as libpq without TLS and PgBouncer do.
// @see https://www.postgresql.org/docs/current/sasl-authentication.html
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64Strict } from './base64.js';
import { deriveScramKeys, hmacSha256, SCRAM_KEY_LENGTH, sha256 } from './scram-keys.js';

/** a failed or malformed exchange; the message never holds a password, key or proof */
export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

/**
 * What logs in instead of a password: the ClientKey recovered from a client's own SCRAM proof and
 * the ServerKey of the stored secret (PgBouncer's SCRAM pass-through). They only work if the server's
 * salt and iteration count are those of the secret they came from.
 */
export interface ScramClientKeys {
  clientKey: Buffer;
  serverKey: Buffer;
}

export interface ScramClientOptions {
  /** the client nonce; random unless a test injects one (RFC 7677's example) */
  nonce?: string;
  /**
   * The user name in client-first-message. PostgreSQL ignores it and takes the startup packet's,
   * so libpq and PgBouncer send it empty ("n=,"); that is the default.
   */
  user?: string;
}

type Phase = 'new' | 'started' | 'deriving' | 'continued' | 'done' | 'failed';

const GS2_HEADER = 'n,,'; /* no channel binding, no authzid */
const CHANNEL_BINDING = Buffer.from(GS2_HEADER).toString('base64'); /* "biws" */
const RAW_NONCE_LENGTH = 18; /* libpq's SCRAM_RAW_NONCE_LEN */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/; /* RFC 5802 "printable": visible ASCII except ',' */
const ITERATIONS = /^[1-9][0-9]*$/;
const MAX_ITERATIONS = 0x7fffffff; /* PostgreSQL keeps the count in an int */
/**
 * The most PBKDF2 rounds we run on a server's say-so. The server picks the count, so without a
 * bound a hostile one (or a man in the middle) could hold a libuv thread for minutes per login
 * (2^31 rounds). 100 000 is 24 times PostgreSQL's default of 4096 and costs about 50 ms; pass-through
 * keys derive nothing, so they take any count.
 */
export const MAX_DERIVED_ITERATIONS = 100_000;
const MAX_ERROR_LENGTH = 100;

/**
 * One SCRAM-SHA-256 exchange: start() → SASLInitialResponse data, continue() on
 * AuthenticationSASLContinue → SASLResponse data, finish() on AuthenticationSASLFinal. Each step
 * runs once and in order; any failure ends the exchange.
 */
export class ScramClient {
  private phase: Phase = 'new';
  private readonly nonce: string;
  private readonly user: string;
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | null = null;

  constructor(options: ScramClientOptions = {}) {
    this.nonce = options.nonce ?? randomBytes(RAW_NONCE_LENGTH).toString('base64');
    if (!PRINTABLE.test(this.nonce)) throw new ScramError('SCRAM client nonce must be printable ASCII without commas');
    this.user = options.user ?? '';
  }

  /** true once the server's signature has been verified: only then has the server proved it knows the secret */
  get isComplete(): boolean {
    return this.phase === 'done';
  }

  /** client-first-message: "n,,n=<user>,r=<nonce>" */
  start(): string {
    this.enter('new', 'start', 'started');
    this.clientFirstBare = `n=${saslName(this.user)},r=${this.nonce}`;
    return GS2_HEADER + this.clientFirstBare;
  }

  /** client-final-message, with the proof, for server-first-message `serverFirst` */
  async continue(serverFirst: string, credentials: string | ScramClientKeys): Promise<string> {
    this.enter('started', 'continue', 'deriving');
    try {
      const { nonce, salt, iterations } = parseServerFirst(serverFirst, this.nonce);
      if (typeof credentials === 'string' && iterations > MAX_DERIVED_ITERATIONS) {
        throw new ScramError(
          `the server asks for ${iterations} SCRAM iterations; pooler derives keys with at most ${MAX_DERIVED_ITERATIONS} ` +
            "(PostgreSQL's default is 4096): set the role's password again with a lower scram_iterations",
        );
      }
      const keys = typeof credentials === 'string' ? await deriveScramKeys(credentials, salt, iterations) : checkKeys(credentials);
      const finalWithoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
      const authMessage = `${this.clientFirstBare},${serverFirst},${finalWithoutProof}`;
      const clientSignature = hmacSha256(sha256(keys.clientKey), authMessage);
      this.expectedServerSignature = hmacSha256(keys.serverKey, authMessage);
      this.phase = 'continued';
      return `${finalWithoutProof},p=${xor(keys.clientKey, clientSignature).toString('base64')}`;
    } catch (err) {
      this.phase = 'failed';
      throw err;
    }
  }

  /** checks server-final-message; throws unless the server proved it holds the same secret */
  finish(serverFinal: string): void {
    this.enter('continued', 'finish', 'failed');
    if (serverFinal.startsWith('e=')) {
      throw new ScramError(`server rejected SCRAM authentication: ${sanitize(serverFinal.slice(2))}`);
    }
    const [verifier] = readAttributes(serverFinal, ['v'], 'server-final-message');
    const signature = decodeBase64Strict(verifier!);
    if (signature === null || signature.length !== SCRAM_KEY_LENGTH) {
      throw new ScramError('malformed SCRAM server-final-message: the server signature is not 32 bytes of base64');
    }
    if (!timingSafeEqual(signature, this.expectedServerSignature!)) {
      throw new ScramError('SCRAM server signature does not match: the server does not hold the same secret as the pooler');
    }
    this.phase = 'done';
  }

  private enter(expected: Phase, step: string, next: Phase): void {
    if (this.phase !== expected) throw new ScramError(`SCRAM ${step}() called out of order (exchange is ${this.phase})`);
    this.phase = next;
  }
}

interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
}

/** server-first-message: "r=<client nonce + server nonce>,s=<base64 salt>,i=<iterations>" */
function parseServerFirst(message: string, clientNonce: string): ServerFirst {
  const [nonce, encodedSalt, encodedIterations] = readAttributes(message, ['r', 's', 'i'], 'server-first-message') as [
    string,
    string,
    string,
  ];
  if (!PRINTABLE.test(nonce)) throw new ScramError('malformed SCRAM server-first-message: the nonce is not printable ASCII');
  // The server must echo our nonce and add its own; otherwise this is not an answer to our request.
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
    throw new ScramError('SCRAM server nonce does not extend the client nonce');
  }
  const salt = decodeBase64Strict(encodedSalt);
  if (salt === null || salt.length === 0) throw new ScramError('malformed SCRAM server-first-message: invalid salt');
  const iterations = Number(encodedIterations);
  if (!ITERATIONS.test(encodedIterations) || iterations > MAX_ITERATIONS) {
    throw new ScramError('malformed SCRAM server-first-message: the iteration count is not a positive integer');
  }
  return { nonce, salt, iterations };
}

/**
 * The values of a message made of exactly `names`, in that order ("r=…,s=…,i=…"). Nothing may
 * follow, as in libpq: PostgreSQL sends no extensions, and a mandatory one ("m=") must fail.
 */
function readAttributes(message: string, names: readonly string[], what: string): string[] {
  const parts = message.split(',');
  if (parts[0]?.startsWith('m=')) throw new ScramError(`SCRAM ${what} requires an unsupported extension`);
  const values = names.map((name, i) => {
    const part = parts[i];
    if (part === undefined || !part.startsWith(`${name}=`)) {
      throw new ScramError(`malformed SCRAM ${what}: expected attribute "${name}" at position ${i + 1}`);
    }
    return part.slice(2);
  });
  if (parts.length > names.length) throw new ScramError(`malformed SCRAM ${what}: unexpected data after the last attribute`);
  return values;
}

function checkKeys(keys: ScramClientKeys): ScramClientKeys {
  if (keys.clientKey.length !== SCRAM_KEY_LENGTH || keys.serverKey.length !== SCRAM_KEY_LENGTH) {
    throw new ScramError(`SCRAM ClientKey and ServerKey must be ${SCRAM_KEY_LENGTH} bytes each`);
  }
  return keys;
}

/** RFC 5802 saslname: ',' and '=' are escaped as =2C and =3D */
function saslName(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** a server-supplied error value, made safe to put in a log line */
function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_ERROR_LENGTH);
}
