// PgBouncer's *_tls_protocols and *_tls_ciphers / *_tls13_ciphers values turned into Node's TLS
// options: the protocol range (minVersion/maxVersion) and an OpenSSL cipher list; and the reading
// of the key, certificate and CA files, with errors that name the setting.
import { readFileSync } from 'node:fs';
import type { SecureVersion } from 'node:tls';

/** the file a *_tls_*_file setting names; an error says which setting and why (ENOENT, EACCES) */
export function readTlsFile(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${key} = ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export interface TlsVersionAndCiphers {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers?: string;
}

const VERSIONS: Record<string, SecureVersion> = {
  'tlsv1.0': 'TLSv1',
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
};
const ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
/** libtls' cipher keywords; all of them leave OpenSSL's own default list, which is the secure one */
const CIPHER_KEYWORDS = new Set(['default', 'secure', 'fast', 'normal', 'compat', 'legacy', 'all', 'insecure']);

/**
 * `protocols` is a list such as "tlsv1.2,tlsv1.3", or secure (1.2 and 1.3), all or legacy (1.0 to
 * 1.3); the range spans the lowest to the highest named. `prefix` names the keys in errors.
 */
export function tlsVersionAndCiphers(prefix: 'client' | 'server', protocols: string, ciphers: string, tls13Ciphers: string): TlsVersionAndCiphers {
  const words = protocols.toLowerCase().split(/[\s,:]+/).filter(Boolean);
  const chosen = new Set<SecureVersion>();
  for (const word of words.length === 0 ? ['secure'] : words) {
    if (word === 'secure') {
      chosen.add('TLSv1.2').add('TLSv1.3');
    } else if (word === 'all' || word === 'legacy') {
      for (const version of ORDER) chosen.add(version);
    } else if (VERSIONS[word] !== undefined) {
      chosen.add(VERSIONS[word]);
    } else {
      throw new Error(`${prefix}_tls_protocols: unknown protocol "${word}" (use tlsv1.0 to tlsv1.3, secure, all or legacy)`);
    }
  }
  const sorted = ORDER.filter((version) => chosen.has(version));
  const lists = [tls13Ciphers.trim(), CIPHER_KEYWORDS.has(ciphers.trim().toLowerCase()) ? '' : ciphers.trim()].filter(Boolean);
  return {
    minVersion: sorted[0]!,
    maxVersion: sorted[sorted.length - 1]!,
    ...(lists.length > 0 ? { ciphers: lists.join(':') } : {}),
  };
}
