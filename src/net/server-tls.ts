// TLS toward PostgreSQL: what server_tls_sslmode asks for and the options (CA, client key and
// certificate, protocols, ciphers) for tls.connect, read at start and on RELOAD. Unix-socket servers never use TLS,
// as with libpq.
import type { ConnectionOptions } from 'node:tls';
import type { Settings, TlsMode } from '../config/types.js';
import { readTlsFile, tlsVersionAndCiphers } from './tls-options.js';

export interface ServerTls {
  mode: TlsMode;
  options: ConnectionOptions;
}

/** null when the pooler does not ask servers for TLS (disable; allow, which libpq tries plain first) */
export function loadServerTls(settings: Settings): ServerTls | null {
  const mode = settings.server_tls_sslmode;
  if (mode === 'disable' || mode === 'allow') return null;
  const read = (key: 'server_tls_ca_file' | 'server_tls_cert_file' | 'server_tls_key_file'): Buffer | undefined => {
    const file = settings[key];
    return file === '' ? undefined : readTlsFile(key, file);
  };
  const verify = mode === 'verify-ca' || mode === 'verify-full';
  if (verify && settings.server_tls_ca_file === '') throw new Error(`server_tls_sslmode = ${mode} needs server_tls_ca_file`);
  const ca = read('server_tls_ca_file');
  const cert = read('server_tls_cert_file');
  const key = read('server_tls_key_file');
  return {
    mode,
    options: {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...tlsVersionAndCiphers('server', settings.server_tls_protocols, settings.server_tls_ciphers, settings.server_tls13_ciphers),
      rejectUnauthorized: verify,
      // verify-ca checks the chain only; verify-full also the host name (Node's default check)
      ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    },
  };
}
