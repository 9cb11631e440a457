import { describe, expect, it } from 'vitest';
import { tlsVersionAndCiphers } from './tls-options.js';

describe('*_tls_protocols and *_tls_ciphers', () => {
  it.each([
    ['secure', 'TLSv1.2', 'TLSv1.3'],
    ['tlsv1.3', 'TLSv1.3', 'TLSv1.3'],
    ['tlsv1.2,tlsv1.3', 'TLSv1.2', 'TLSv1.3'],
    ['all', 'TLSv1', 'TLSv1.3'],
    ['TLSv1.1 tlsv1.2', 'TLSv1.1', 'TLSv1.2'],
  ])('%s allows %s to %s', (protocols, min, max) => {
    expect(tlsVersionAndCiphers('client', protocols, 'default', '')).toEqual({ minVersion: min, maxVersion: max });
  });

  it('passes an OpenSSL cipher list on, TLS 1.3 suites first, and leaves keywords to OpenSSL', () => {
    expect(tlsVersionAndCiphers('server', 'secure', 'ECDHE-RSA-AES128-GCM-SHA256', 'TLS_AES_256_GCM_SHA384').ciphers).toBe(
      'TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES128-GCM-SHA256',
    );
    expect(tlsVersionAndCiphers('server', 'secure', 'fast', '').ciphers).toBeUndefined();
  });

  it('names the setting for a protocol it does not know', () => {
    expect(() => tlsVersionAndCiphers('server', 'sslv3', 'default', '')).toThrow('server_tls_protocols: unknown protocol "sslv3"');
  });
});
