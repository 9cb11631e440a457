// Checks a cleartext password from a client (auth_type = plain) against a stored secret of any
// kind: plaintext, md5, or SCRAM-SHA-256, which needs PBKDF2 and so is async.
import { createHash, timingSafeEqual } from 'node:crypto';
import { md5PasswordHash } from './md5.js';
import { deriveScramKeys } from './scram-keys.js';
import { classifySecret } from './secrets.js';

/** An empty password never matches, as in PostgreSQL and PgBouncer. */
export async function verifyPlainPassword(secret: string, user: string, password: string): Promise<boolean> {
  if (password === '') return false;
  const stored = classifySecret(secret);
  switch (stored.kind) {
    case 'plain':
      return stored.password !== '' && equalSecrets(stored.password, password);
    case 'md5':
      return equalSecrets(stored.hash, md5PasswordHash(user, password));
    case 'scram': {
      const { storedKey } = await deriveScramKeys(password, stored.salt, stored.iterations);
      return timingSafeEqual(storedKey, stored.storedKey);
    }
    default:
      return assertNever(stored);
  }
}

/** constant-time equality for strings of any length: compares fixed-size digests */
function equalSecrets(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** the value is never printed: it would hold the secret */
function assertNever(_value: never): never {
  throw new Error('unexpected stored secret kind');
}
