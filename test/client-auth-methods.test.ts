// The client login methods other files do not cover, with psql and node-postgres: plain, trust,
// any (forced user), cert (CN = user, or an ident map), auth_type = hba with its rule types and
// reject, SCRAM-SHA-256-PLUS channel binding over TLS, and client_tls_protocols.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { makeCertificates, makeClientCertificate, type TestCertificates } from './support/certificates.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let certs: TestCertificates;
let otherCert: { key: string; cert: string };
const started: PoolerProcess[] = [];

async function pooler(settings: Record<string, string | number>, databases?: Record<string, string>): Promise<PoolerProcess> {
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  const process = await startPooler({
    settings: {
      client_tls_sslmode: 'prefer',
      client_tls_key_file: certs.serverKey,
      client_tls_cert_file: certs.serverCert,
      client_tls_ca_file: certs.caCert,
      ...settings,
    },
    authFile: { scram_user: 'scrampass', md5_user: 'md5pass', trust_user: '' },
    databases: databases ?? { app: target },
  });
  started.push(process);
  return process;
}

beforeAll(() => {
  // client.pem names scram_user; other.pem names a person, for ident maps
  certs = makeCertificates('scram_user');
  otherCert = makeClientCertificate(certs.dir, 'alice.example', 'other');
});

afterAll(async () => {
  for (const process of started) await process.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

/** psql's `SELECT current_user` through `through`, with conninfo extras; stdout, or stderr on failure */
async function psqlUser(through: PoolerProcess, user: string, extra: string, password = ''): Promise<string> {
  const conninfo = `host=localhost port=${through.port} user=${user} dbname=app sslrootcert=${certs.caCert} ${extra}`;
  const result = await runTool('psql', ['-X', '-A', '-t', '-c', 'SELECT current_user', conninfo], { PGPASSWORD: password });
  return result.code === 0 ? result.stdout.trim() : result.stderr.trim();
}

describe('plain, trust and any', () => {
  it('plain asks for the cleartext password and checks it', async () => {
    const plain = await pooler({ auth_type: 'plain' });
    expect(await psqlUser(plain, 'scram_user', 'sslmode=disable', 'scrampass')).toBe('scram_user');
    expect(await psqlUser(plain, 'scram_user', 'sslmode=disable', 'nope')).toContain('password authentication failed for user "scram_user"');
  });

  it('trust lets a user listed in auth_file in without a password, and no one else', async () => {
    const trust = await pooler({ auth_type: 'trust' });
    expect(await psqlUser(trust, 'trust_user', 'sslmode=disable')).toBe('trust_user');
    expect(await psqlUser(trust, 'stranger', 'sslmode=disable')).toContain('"stranger" is not in auth_file');
  });

  it('any lets anyone in, as the database entry’s user', async () => {
    const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test user=trust_user`;
    const any = await pooler({ auth_type: 'any' }, { app: target });
    expect(await psqlUser(any, 'whoever', 'sslmode=disable')).toBe('trust_user');
  });
});

describe('auth_type = cert', () => {
  it('logs in the user the certificate names, with no password, and refuses another user or no certificate', async () => {
    const cert = await pooler({ auth_type: 'cert', client_tls_sslmode: 'require' });
    const withCert = `sslmode=verify-full sslcert=${certs.clientCert} sslkey=${certs.clientKey}`;
    expect(await psqlUser(cert, 'scram_user', withCert)).toBe('scram_user');
    expect(await psqlUser(cert, 'md5_user', withCert)).toContain('certificate authentication failed for user "md5_user"');
    expect(await psqlUser(cert, 'scram_user', 'sslmode=require')).toContain('connection requires a valid client certificate');
  });
});

describe('auth_type = hba', () => {
  let hba: PoolerProcess;

  beforeAll(async () => {
    const hbaFile = join(certs.dir, 'hba.conf');
    const identFile = join(certs.dir, 'ident.conf');
    writeFileSync(
      hbaFile,
      [
        '# user    database user         address       method',
        'hostssl   all      scram_user   127.0.0.1/32  scram-sha-256',
        'hostnossl all      scram_user   all           reject',
        'host      all      md5_user     127.0.0.1/32  md5',
        'hostssl   all      trust_user   all           cert map=people',
        'host      all      trust_user   ::1/128       trust',
        '',
      ].join('\n'),
    );
    writeFileSync(identFile, 'people alice.example trust_user\n');
    hba = await pooler({ auth_type: 'hba', auth_hba_file: hbaFile, auth_ident_file: identFile });
  });

  it('applies the first rule that matches: SCRAM over TLS, reject without it', async () => {
    expect(await psqlUser(hba, 'scram_user', 'sslmode=require', 'scrampass')).toBe('scram_user');
    expect(await psqlUser(hba, 'scram_user', 'sslmode=disable', 'scrampass')).toContain(
      'pg_hba.conf rejects connection for host "127.0.0.1", user "scram_user", database "app", SSL off',
    );
  });

  it('uses md5 where the rule says md5', async () => {
    expect(await psqlUser(hba, 'md5_user', 'sslmode=disable', 'md5pass')).toBe('md5_user');
    expect(await psqlUser(hba, 'md5_user', 'sslmode=disable', 'wrong')).toContain('password authentication failed');
  });

  it('maps a certificate name to a user with map= and auth_ident_file', async () => {
    const alice = `sslmode=verify-full sslcert=${otherCert.cert} sslkey=${otherCert.key}`;
    expect(await psqlUser(hba, 'trust_user', alice)).toBe('trust_user');
    // scram_user's certificate is not in the map for trust_user
    const bob = `sslmode=verify-full sslcert=${certs.clientCert} sslkey=${certs.clientKey}`;
    expect(await psqlUser(hba, 'trust_user', bob)).toContain('certificate authentication failed for user "trust_user"');
  });

  it('refuses a connection no rule covers, with PostgreSQL’s 28000 message', async () => {
    const client = new pg.Client({ connectionString: hba.url('app', 'trust_user') });
    await expect(client.connect()).rejects.toMatchObject({
      code: '28000',
      message: 'no pg_hba.conf entry for host "127.0.0.1", user "trust_user", database "app", SSL off',
    });
  });
});

describe('SCRAM-SHA-256-PLUS channel binding', () => {
  it('binds to the pooler certificate for libpq channel_binding=require and node-postgres', async () => {
    const scram = await pooler({ auth_type: 'scram-sha-256' });
    expect(await psqlUser(scram, 'scram_user', 'sslmode=verify-full channel_binding=require', 'scrampass')).toBe('scram_user');
    // without TLS there is nothing to bind to, so libpq's require refuses to go on
    expect(await psqlUser(scram, 'scram_user', 'sslmode=disable channel_binding=require', 'scrampass')).toMatch(/channel binding/);
    const client = new pg.Client({
      connectionString: scram.url('app', 'scram_user', 'scrampass'),
      ssl: { ca: readFileSync(certs.caCert), servername: 'localhost' },
      enableChannelBinding: true,
    } as pg.ClientConfig);
    await client.connect();
    const { rows } = await client.query('SELECT current_user AS u');
    expect(rows[0].u).toBe('scram_user');
    await client.end();
    expect(await psqlUser(scram, 'scram_user', 'sslmode=require channel_binding=require', 'wrong')).toContain('password authentication failed');
  });
});

describe('client_tls_protocols', () => {
  it('refuses a TLS 1.2-only client when only TLS 1.3 is allowed, and serves TLS 1.3', async () => {
    const only13 = await pooler({ auth_type: 'trust', client_tls_protocols: 'tlsv1.3', admin_users: 'trust_user' });
    expect(await psqlUser(only13, 'trust_user', 'sslmode=require ssl_max_protocol_version=TLSv1.2')).toMatch(/protocol version|alert|SSL error/i);
    const client = new pg.Client({ connectionString: only13.url('pgbouncer', 'trust_user'), ssl: { ca: readFileSync(certs.caCert), servername: 'localhost' } });
    await client.connect();
    const { rows } = await client.query('SHOW CLIENTS');
    expect(rows.find((row) => row.database === 'pgbouncer').tls).toMatch(/^TLSv1\.3\//);
    await client.end();
  });
});
