// TLS toward clients: the secure context built from client_tls_key_file / cert_file / ca_file,
// and what client_tls_sslmode asks of a client (PgBouncer's modes). Built at start and on RELOAD,
// so new certificate files apply to new connections.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Settings, TlsMode } from '../config/types.js';

export interface ClientTls {
  mode: TlsMode;
  context: tls.SecureContext;
  /** verify-ca / verify-full: a client certificate signed by client_tls_ca_file is required */
  verifyClient: boolean;
}

/** null when TLS toward clients is off; throws with the file that could not be used */
export function loadClientTls(settings: Settings): ClientTls | null {
  const mode = settings.client_tls_sslmode;
  if (mode === 'disable') return null;
  const read = (key: 'client_tls_key_file' | 'client_tls_cert_file' | 'client_tls_ca_file'): Buffer => {
    const file = settings[key];
    if (file === '') throw new Error(`client_tls_sslmode = ${mode} needs ${key}`);
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${key} = ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const verifyClient = mode === 'verify-ca' || mode === 'verify-full';
  const context = tls.createSecureContext({
    key: read('client_tls_key_file'),
    cert: read('client_tls_cert_file'),
    ...(verifyClient || settings.client_tls_ca_file !== '' ? { ca: read('client_tls_ca_file') } : {}),
    minVersion: 'TLSv1.2',
  });
  return { mode, context, verifyClient };
}

/** in these modes a peer that does not speak TLS is refused */
export function tlsRequired(mode: TlsMode): boolean {
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
}
