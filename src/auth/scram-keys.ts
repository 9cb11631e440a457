// SCRAM-SHA-256 key derivation (RFC 5802 §3): password → SaltedPassword → ClientKey, StoredKey,
// ServerKey. Kept apart from the exchange so stored keys can stand in for a password.
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { formatScramSecret } from './secrets.js';
import { saslprep } from './saslprep.js';

export const SCRAM_KEY_LENGTH = 32; /* SHA-256 output */
/** PostgreSQL's default scram_iterations */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const DEFAULT_SALT_LENGTH = 16; /* PostgreSQL's SCRAM_DEFAULT_SALT_LEN */

export interface ScramKeys {
  clientKey: Buffer;
  storedKey: Buffer; /* H(ClientKey): what the server stores and checks a proof against */
  serverKey: Buffer;
}

export function hmacSha256(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * SaltedPassword = Hi(SASLprep(password), salt, iterations), i.e. PBKDF2-HMAC-SHA-256. Runs on the
 * libuv thread pool: at PostgreSQL's 4096 iterations it costs milliseconds of CPU, and more with a
 * raised scram_iterations, which must not stall the event loop that forwards everyone's traffic.
 */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    return Promise.reject(new RangeError(`SCRAM iteration count must be a positive integer, got ${iterations}`));
  }
  return new Promise((resolve, reject) => {
    pbkdf2(saslprep(password), salt, iterations, SCRAM_KEY_LENGTH, 'sha256', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export function scramKeysFromSaltedPassword(salted: Buffer): ScramKeys {
  const clientKey = hmacSha256(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmacSha256(salted, 'Server Key') };
}

export async function deriveScramKeys(password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  return scramKeysFromSaltedPassword(await saltedPassword(password, salt, iterations));
}

/** a SCRAM-SHA-256 secret for `password` in PostgreSQL's pg_authid format, as `\password` makes one */
export async function createScramSecret(
  password: string,
  iterations: number = DEFAULT_SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(DEFAULT_SALT_LENGTH),
): Promise<string> {
  const { storedKey, serverKey } = await deriveScramKeys(password, salt, iterations);
  return formatScramSecret({ iterations, salt, storedKey, serverKey });
}
