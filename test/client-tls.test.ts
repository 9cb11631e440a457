// TLS toward clients with psql and node-postgres: client_tls_sslmode prefer (TLS when asked,
// plaintext otherwise), require (plaintext refused with "SSL required"), verify-ca (a client
// certificate from client_tls_ca_file is needed), certificates made with openssl for the test.
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { wire } from '../src/testing/wire.js';
import { makeCertificates, type TestCertificates } from './support/certificates.js';
import { RawClient } from './support/raw-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let certs: TestCertificates;
const MODES = ['allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
const poolers: Record<(typeof MODES)[number], PoolerProcess> = {} as never;

beforeAll(async () => {
  certs = makeCertificates('postgres');
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  for (const mode of MODES) {
    poolers[mode] = await startPooler({
      settings: {
        auth_type: 'trust',
        admin_users: 'postgres',
        client_tls_sslmode: mode,
        client_tls_key_file: certs.serverKey,
        client_tls_cert_file: certs.serverCert,
        client_tls_ca_file: certs.caCert,
      },
      databases: { app: target },
    });
  }
});

afterAll(async () => {
  for (const pooler of Object.values(poolers)) await pooler?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

function psql(pooler: PoolerProcess, sslmode: string, extra = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const conninfo = `host=localhost port=${pooler.port} user=postgres dbname=app sslmode=${sslmode} sslrootcert=${certs.caCert} ${extra}`;
  return runTool('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', conninfo]);
}

describe('client_tls_sslmode = prefer', () => {
  it('speaks TLS to a client that asks (psql verify-full against the test CA) and plaintext to one that does not', async () => {
    const secure = await psql(poolers.prefer, 'verify-full');
    expect(secure.stdout.trim(), secure.stderr).toBe('1');
    const plain = await psql(poolers.prefer, 'disable');
    expect(plain.stdout.trim(), plain.stderr).toBe('1');
  });

  it('shows the TLS version of a TLS client in SHOW CLIENTS', async () => {
    const client = new pg.Client({ connectionString: poolers.prefer.url('pgbouncer'), ssl: { ca: readFileSync(certs.caCert), servername: 'localhost' } });
    await client.connect();
    const { rows } = await client.query('SHOW CLIENTS');
    expect(rows.find((r) => r.database === 'pgbouncer').tls).toMatch(/^TLSv1\.[23]\//);
    await client.end();
  });
});

describe('client_tls_sslmode = allow', () => {
  it('serves TLS to a client that asks and plaintext to one that does not, like prefer', async () => {
    expect((await psql(poolers.allow, 'verify-full')).stdout.trim()).toBe('1');
    expect((await psql(poolers.allow, 'disable')).stdout.trim()).toBe('1');
  });
});

describe('client_tls_sslmode = require', () => {
  it('refuses a plaintext client with "SSL required" and serves a TLS one', async () => {
    const plain = await psql(poolers.require, 'disable');
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('SSL required');
    const secure = await psql(poolers.require, 'require');
    expect(secure.stdout.trim(), secure.stderr).toBe('1');
  });

  it('rejects a client that checks the server against another CA', async () => {
    const other = makeCertificates('x');
    try {
      const result = await runTool('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', `host=localhost port=${poolers.require.port} user=postgres dbname=app sslmode=verify-ca sslrootcert=${other.caCert}`]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/certificate verify failed/);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});

describe('client_tls_sslmode = verify-ca', () => {
  it('needs a client certificate signed by client_tls_ca_file', async () => {
    const without = await psql(poolers['verify-ca'], 'require');
    expect(without.code).not.toBe(0);
    const withCert = await psql(poolers['verify-ca'], 'verify-full', `sslcert=${certs.clientCert} sslkey=${certs.clientKey}`);
    expect(withCert.stdout.trim(), withCert.stderr).toBe('1');
  });

  it('refuses a client certificate signed by another CA', async () => {
    const other = makeCertificates('postgres');
    try {
      const forged = await psql(poolers['verify-ca'], 'verify-full', `sslcert=${other.clientCert} sslkey=${other.clientKey}`);
      expect(forged.code).not.toBe(0);
      expect(forged.stderr).toContain('the client certificate did not verify against client_tls_ca_file');
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});

describe('client_tls_sslmode = verify-full', () => {
  it('needs a client certificate signed by client_tls_ca_file, and refuses plaintext', async () => {
    expect((await psql(poolers['verify-full'], 'disable')).stderr).toContain('SSL required');
    expect((await psql(poolers['verify-full'], 'require')).code).not.toBe(0);
    const withCert = await psql(poolers['verify-full'], 'verify-full', `sslcert=${certs.clientCert} sslkey=${certs.clientKey}`);
    expect(withCert.stdout.trim(), withCert.stderr).toBe('1');
  });
});

describe('RELOAD', () => {
  it('picks up new certificate files for new connections', async () => {
    const renewed = makeCertificates('postgres');
    const keyFile = join(renewed.dir, 'live.key');
    const certFile = join(renewed.dir, 'live.pem');
    copyFileSync(certs.serverKey, keyFile);
    copyFileSync(certs.serverCert, certFile);
    const pooler = await startPooler({
      settings: { auth_type: 'trust', client_tls_sslmode: 'require', client_tls_key_file: keyFile, client_tls_cert_file: certFile },
      databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
    });
    const check = (ca: string) =>
      runTool('psql', ['-X', '-A', '-t', '-c', 'SELECT 1', `host=localhost port=${pooler.port} user=postgres dbname=app sslmode=verify-full sslrootcert=${ca}`]);
    try {
      expect((await check(certs.caCert)).stdout.trim()).toBe('1');
      copyFileSync(renewed.serverKey, keyFile);
      copyFileSync(renewed.serverCert, certFile);
      pooler.child.kill('SIGHUP');
      let after = await check(renewed.caCert);
      for (let i = 0; i < 20 && after.code !== 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await check(renewed.caCert);
      }
      expect(after.stdout.trim(), after.stderr).toBe('1');
      expect((await check(certs.caCert)).code).not.toBe(0);
    } finally {
      await pooler.stop();
      rmSync(renewed.dir, { recursive: true, force: true });
    }
  });
});

describe('direct TLS (PostgreSQL 17 sslnegotiation=direct)', () => {
  const startup = wire().int32(196608).cstring('user').cstring('postgres').cstring('database').cstring('app').bytes(Buffer.from([0])).untyped();

  it('accepts a TLS handshake without SSLRequest when ALPN says "postgresql", and logs in over it', async () => {
    const client = await RawClient.connectDirectTls(poolers.require.port, {
      ca: readFileSync(certs.caCert),
      servername: 'localhost',
      ALPNProtocols: ['postgresql'],
    });
    try {
      expect((client.socket as import('node:tls').TLSSocket).alpnProtocol).toBe('postgresql');
      client.send(startup);
      const messages = await client.readUntilReady();
      expect(messages.map((m) => m.code)).toContain('R');
      expect(messages.at(-1)?.code).toBe('Z');
    } finally {
      client.close();
    }
  });

  // PostgreSQL 17 logs "received direct SSL connection request without ALPN" and sends nothing
  it('closes a direct TLS connection without ALPN without a word, as PostgreSQL does', async () => {
    const client = await RawClient.connectDirectTls(poolers.require.port, { ca: readFileSync(certs.caCert), servername: 'localhost' });
    try {
      expect(await client.readMessage()).toBeNull();
      expect(client.closed).toBe(true);
    } finally {
      client.close();
    }
  });
});
