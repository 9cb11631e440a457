// MD5 password authentication (AuthenticationMD5Password): the stored hash, the salted answer to
// a challenge, and checking a client's answer. Works from a plaintext password or an md5 secret.
// @see https://www.postgresql.org/docs/current/auth-password.html
import { createHash, timingSafeEqual } from 'node:crypto';
import { classifySecret } from './secrets.js';

const SALT_LENGTH = 4;

function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** what PostgreSQL stores for md5: 'md5' + md5hex(password + user) */
export function md5PasswordHash(user: string, password: string): string {
  return 'md5' + md5Hex(password + user);
}

/**
 * The PasswordMessage body answering an md5 challenge: 'md5' + md5hex(md5hex(password + user) + salt).
 * The inner hash is exactly what an md5 secret holds, so a stored md5 secret answers as well as the
 * plaintext password (PgBouncer relies on this). A SCRAM secret cannot answer md5 and throws.
 */
export function md5Response(user: string, passwordOrMd5Secret: string, salt: Buffer): string {
  if (salt.length !== SALT_LENGTH) throw new Error(`md5 salt must be ${SALT_LENGTH} bytes, got ${salt.length}`);
  const secret = classifySecret(passwordOrMd5Secret);
  if (secret.kind === 'scram') {
    throw new Error('cannot answer an md5 challenge with a SCRAM secret: store the plaintext password or its md5 hash');
  }
  const inner = secret.kind === 'md5' ? secret.hash : md5PasswordHash(user, secret.password);
  return 'md5' + md5Hex(Buffer.concat([Buffer.from(inner.slice(3), 'ascii'), salt]));
}

/**
 * Whether `response` is the right answer to our md5 challenge with `salt`, for a plaintext or md5
 * secret. A SCRAM secret cannot check an md5 answer; an empty plaintext password never matches,
 * as in PgBouncer.
 */
export function verifyMd5Response(secret: string, user: string, salt: Buffer, response: string): boolean {
  const stored = classifySecret(secret);
  if (stored.kind === 'scram' || (stored.kind === 'plain' && stored.password === '')) return false;
  const expected = Buffer.from(md5Response(user, secret, salt), 'ascii');
  const actual = Buffer.from(response, 'utf8');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
