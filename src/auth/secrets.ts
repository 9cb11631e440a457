// What a stored secret (an auth_file or auth_query value) is: a plaintext password, an md5 hash or
// a SCRAM-SHA-256 verifier. The rules are PostgreSQL's and PgBouncer's (get_password_type).
import { decodeBase64Strict } from './base64.js';

export type StoredSecret =
  | { kind: 'plain'; password: string }
  | { kind: 'md5'; hash: string } /* 'md5' + 32 lowercase hex digits, the whole secret */
  | { kind: 'scram'; iterations: number; salt: Buffer; storedKey: Buffer; serverKey: Buffer };

export type ScramSecret = Extract<StoredSecret, { kind: 'scram' }>;

const MD5_SECRET = /^md5[0-9a-f]{32}$/;
const SCRAM_SECRET = /^SCRAM-SHA-256\$([0-9]+):([^$]+)\$([^:]+):(.+)$/;
const SCRAM_KEY_LENGTH = 32;
const MAX_ITERATIONS = 0x7fffffff; /* PostgreSQL keeps the count in an int */

/**
 * Classifies a stored secret. Like PostgreSQL, anything that does not parse as md5 or SCRAM is a
 * plaintext password, so a mangled SCRAM verifier becomes a (useless) password rather than an
 * error; lowercase hex only, as PostgreSQL writes it.
 */
export function classifySecret(secret: string): StoredSecret {
  if (MD5_SECRET.test(secret)) return { kind: 'md5', hash: secret };
  return parseScramSecret(secret) ?? { kind: 'plain', password: secret };
}

export function isMd5Secret(secret: string): boolean {
  return MD5_SECRET.test(secret);
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, all base64; null if it is not one */
export function parseScramSecret(secret: string): ScramSecret | null {
  const m = SCRAM_SECRET.exec(secret);
  if (m === null) return null;
  const iterations = Number(m[1]);
  const salt = decodeBase64Strict(m[2]!);
  const storedKey = decodeBase64Strict(m[3]!);
  const serverKey = decodeBase64Strict(m[4]!);
  if (!(iterations >= 1 && iterations <= MAX_ITERATIONS) || salt === null || salt.length === 0) return null;
  if (storedKey?.length !== SCRAM_KEY_LENGTH || serverKey?.length !== SCRAM_KEY_LENGTH) return null;
  return { kind: 'scram', iterations, salt, storedKey, serverKey };
}

/** the text form PostgreSQL stores in pg_authid.rolpassword */
export function formatScramSecret(secret: Omit<ScramSecret, 'kind'>): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${secret.iterations}:${b64(secret.salt)}$${b64(secret.storedKey)}:${b64(secret.serverKey)}`;
}
