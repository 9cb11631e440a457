// TLS toward PostgreSQL, against a PostgreSQL of this file's own with ssl = on that accepts only
// TLS (hostssl): server_tls_sslmode prefer uses TLS (pg_stat_ssl says so), disable cannot get in,
// verify-full checks the certificate against server_tls_ca_file and the host name.
import { chownSync, readdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres, type LocalPostgres } from '../src/demo/local-postgres.js';
import { freePort } from '../src/net/free-port.js';
import { getPostgres } from './harness/context.js';
import { makeCertificates, type TestCertificates } from './support/certificates.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

let certs: TestCertificates;
let other: TestCertificates;
let tlsPostgres: LocalPostgres;
const started: PoolerProcess[] = [];

beforeAll(async () => {
  certs = makeCertificates('postgres');
  other = makeCertificates('postgres');
  // PostgreSQL runs as `postgres` and insists its key is its own and private
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(certs.dir, uid, gid);
    for (const file of readdirSync(certs.dir)) chownSync(join(certs.dir, file), uid, gid);
  }
  tlsPostgres = await startLocalPostgres(await freePort(), ['hostssl all all 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 reject'], [
    'ssl = on',
    `ssl_cert_file = '${certs.serverCert}'`,
    `ssl_key_file = '${certs.serverKey}'`,
  ]);
});

afterAll(async () => {
  for (const pooler of started) await pooler.stop();
  await tlsPostgres?.stop();
  for (const c of [certs, other]) if (c) rmSync(c.dir, { recursive: true, force: true });
});

async function through(settings: Record<string, string>, host = '127.0.0.1'): Promise<pg.Client> {
  const pooler = await startPooler({ settings: { auth_type: 'trust', ...settings }, databases: { app: `host=${host} port=${tlsPostgres.port} dbname=postgres` } });
  started.push(pooler);
  const client = new pg.Client({ connectionString: pooler.url('app') });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('server_tls_sslmode', () => {
  it('prefer (the default) logs in over TLS when the server offers it', async () => {
    const client = await through({});
    const { rows } = await client.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(rows[0].ssl).toBe(true);
    expect(rows[0].version).toMatch(/^TLSv1\.[23]$/);
    await client.end();
  });

  it('server_tls_protocols and server_tls_ciphers choose what the server connection negotiates', async () => {
    const client = await through({ server_tls_protocols: 'tlsv1.2', server_tls_ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    const { rows } = await client.query('SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(rows[0]).toEqual({ version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
    await client.end();
  });

  it('require uses TLS without checking the certificate, and refuses a server that does not speak TLS', async () => {
    const client = await through({ server_tls_sslmode: 'require', server_tls_ca_file: other.caCert });
    expect((await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl).toBe(true);
    await client.end();
    const plain = getPostgres();
    const pooler = await startPooler({
      settings: { auth_type: 'trust', server_tls_sslmode: 'require' },
      databases: { app: `host=${plain.host} port=${plain.port} dbname=pooler_test` },
    });
    started.push(pooler);
    const refused = new pg.Client({ connectionString: pooler.url('app') });
    await expect(refused.connect()).rejects.toThrow(/does not accept TLS, and server_tls_sslmode = require requires it/);
  });

  it('disable does not ask, so a TLS-only server refuses the login with its own message', async () => {
    await expect(through({ server_tls_sslmode: 'disable' })).rejects.toThrow(/pg_hba\.conf rejects connection|no encryption/);
  });

  it('verify-full accepts the server certificate signed by server_tls_ca_file for its host name', async () => {
    const client = await through({ server_tls_sslmode: 'verify-full', server_tls_ca_file: certs.caCert }, 'localhost');
    expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await client.end();
  });

  it('verify-ca refuses a server whose certificate another CA signed', async () => {
    await expect(through({ server_tls_sslmode: 'verify-ca', server_tls_ca_file: other.caCert })).rejects.toThrow(/certificate|self.signed|unable to verify/i);
  });
});
