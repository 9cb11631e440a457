// Certificates made with openssl for one test file: a CA, a server certificate for localhost and
// 127.0.0.1, and a client certificate whose CN is a user name, all in a temp directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

export function makeCertificates(clientUser: string): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'pooler-certs-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pooler test CA'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName = DNS:localhost, IP:127.0.0.1\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  const client = makeClientCertificate(dir, clientUser, 'client');
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    serverKey: join(dir, 'server.key'),
    serverCert: join(dir, 'server.pem'),
    clientKey: client.key,
    clientCert: client.cert,
  };
}

/** another client certificate from the CA in `dir`, with `cn` as its name, in files named `file`.* */
export function makeClientCertificate(dir: string, cn: string, file: string): { key: string; cert: string } {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${file}.pem`, '-days', '2'], dir);
  return { key: join(dir, `${file}.key`), cert: join(dir, `${file}.pem`) };
}
