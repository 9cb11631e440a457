// TLS toward clients: the secure context built from client_tls_key_file / cert_file / ca_file and
// the protocol and cipher settings, and what client_tls_sslmode asks of a client (PgBouncer's modes). Built at start and on RELOAD,
// so new certificate files apply to new connections.
import tls from 'node:tls';
import type { Settings, TlsMode } from '../config/types.js';
import { readTlsFile, tlsVersionAndCiphers } from './tls-options.js';

export interface ClientTls {
  mode: TlsMode;
  context: tls.SecureContext;
  /** verify-ca / verify-full: a client certificate signed by client_tls_ca_file is required */
  verifyClient: boolean;
  /** ask for a client certificate: required as above, or optional for cert logins (auth_type cert, hba) */
  requestCert: boolean;
}

/** null when TLS toward clients is off; throws with the file that could not be used */
export function loadClientTls(settings: Settings): ClientTls | null {
  const mode = settings.client_tls_sslmode;
  if (mode === 'disable') return null;
  const read = (key: 'client_tls_key_file' | 'client_tls_cert_file' | 'client_tls_ca_file'): Buffer => {
    const file = settings[key];
    if (file === '') throw new Error(`client_tls_sslmode = ${mode} needs ${key}`);
    return readTlsFile(key, file);
  };
  const verifyClient = mode === 'verify-ca' || mode === 'verify-full';
  if (settings.auth_type === 'cert' && settings.client_tls_ca_file === '') {
    throw new Error('auth_type = cert needs client_tls_ca_file, the CA that signs client certificates');
  }
  const certLogins = (settings.auth_type === 'cert' || settings.auth_type === 'hba') && settings.client_tls_ca_file !== '';
  const context = tls.createSecureContext({
    key: read('client_tls_key_file'),
    cert: read('client_tls_cert_file'),
    ...(verifyClient || settings.client_tls_ca_file !== '' ? { ca: read('client_tls_ca_file') } : {}),
    ...tlsVersionAndCiphers('client', settings.client_tls_protocols, settings.client_tls_ciphers, settings.client_tls13_ciphers),
  });
  return { mode, context, verifyClient, requestCert: verifyClient || certLogins };
}

/** in these modes a peer that does not speak TLS is refused */
export function tlsRequired(mode: TlsMode): boolean {
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
}

/**
 * Did the client's certificate verify against our CA? A TLSSocket made around an accepted socket
 * (as after an SSLRequest) never sets `authorized` nor enforces rejectUnauthorized — only
 * tls.Server does, by asking the handle for its verify error — so we ask the same way.
 */
export function peerCertificateVerified(socket: tls.TLSSocket): boolean {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return false;
  return handle.verifyError() === null && socket.getPeerCertificate().raw !== undefined;
}
