// SCRAM-SHA-256 toward clients, as node-postgres and psql speak it: against a plaintext password
// or a SCRAM secret in auth_file, with the same 28P01 for a wrong password and an unknown user,
// and md5 falling back to SCRAM for users whose secret is SCRAM (as PostgreSQL does).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScramSecret } from '../src/auth/scram-keys.js';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let scram: PoolerProcess;
let md5: PoolerProcess;

beforeAll(async () => {
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  // postgres logs in to PostgreSQL by trust (roles.ts), so its auth_file entry can be a SCRAM secret
  const authFile = { scram_user: 'scrampass', postgres: await createScramSecret('pg-secret') };
  scram = await startPooler({ settings: { auth_type: 'scram-sha-256' }, authFile, databases: { app: target } });
  md5 = await startPooler({ settings: { auth_type: 'md5' }, authFile, databases: { app: target } });
});

afterAll(async () => {
  await scram?.stop();
  await md5?.stop();
});

async function login(through: PoolerProcess, user: string, password: string): Promise<string> {
  const client = new pg.Client({ connectionString: through.url('app', user, password) });
  await client.connect();
  const { rows } = await client.query('SELECT current_user AS u');
  await client.end();
  return rows[0].u;
}

describe('auth_type = scram-sha-256', () => {
  it('logs in a user whose auth_file entry is the plaintext password', async () => {
    expect(await login(scram, 'scram_user', 'scrampass')).toBe('scram_user');
  });

  it('logs in a user whose auth_file entry is a SCRAM secret', async () => {
    expect(await login(scram, 'postgres', 'pg-secret')).toBe('postgres');
  });

  it('refuses a wrong password and an unknown user with the same 28P01', async () => {
    await expect(login(scram, 'scram_user', 'wrong')).rejects.toMatchObject({ code: '28P01', message: 'password authentication failed for user "scram_user"' });
    await expect(login(scram, 'nobody', 'x')).rejects.toMatchObject({ code: '28P01', message: 'password authentication failed for user "nobody"' });
  });

  it('works with psql', async () => {
    const args = ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(scram.port), '-U', 'scram_user', '-c', 'SELECT 42', 'app'];
    const ok = await runTool('psql', args, { PGPASSWORD: 'scrampass' });
    expect(ok.stdout.trim(), ok.stderr).toBe('42');
    const refused = await runTool('psql', args, { PGPASSWORD: 'nope' });
    expect(refused.stderr).toContain('password authentication failed for user "scram_user"');
  });
});

describe('auth_type = md5', () => {
  it('asks a user with a SCRAM secret for SCRAM, and a user with a plaintext one for md5', async () => {
    expect(await login(md5, 'postgres', 'pg-secret')).toBe('postgres');
    expect(await login(md5, 'scram_user', 'scrampass')).toBe('scram_user');
    await expect(login(md5, 'postgres', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });
});

describe('SCRAM pass-through to PostgreSQL', () => {
  it('logs in to a server that demands SCRAM using the key the client proved, with only a SCRAM secret in auth_file', async () => {
    // the very verifier PostgreSQL stores for scram_user: its salt is what the server will send
    const verifier = (await postgres.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_user'")).trim();
    expect(verifier).toMatch(/^SCRAM-SHA-256\$/);
    const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
    const passThrough = await startPooler({ settings: { auth_type: 'scram-sha-256' }, authFile: { scram_user: verifier }, databases: { app: target } });
    const plain = await startPooler({ settings: { auth_type: 'plain' }, authFile: { scram_user: verifier }, databases: { app: target } });
    try {
      expect(await login(passThrough, 'scram_user', 'scrampass')).toBe('scram_user');
      // with plain, no SCRAM key was proved, so the server login cannot be made; the error says why
      await expect(login(plain, 'scram_user', 'scrampass')).rejects.toThrow(/SCRAM secret for user "scram_user".*logs in to PostgreSQL only with the key/);
    } finally {
      await passThrough.stop();
      await plain.stop();
    }
  });
});
