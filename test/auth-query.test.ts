// auth_query: users missing from auth_file log in with the secret PostgreSQL itself stores, looked
// up as auth_user (globally, or per database with its own query and auth_dbname). md5- and
// SCRAM-stored roles, VALID UNTIL, password changes, hostile names and a broken auth_user.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

// the server is fresh for each run (global setup), so the roles are simply created
const ROLES_SQL = [
  "SET password_encryption = 'md5'; CREATE ROLE aq_md5_user LOGIN PASSWORD 'md5-secret'",
  "SET password_encryption = 'scram-sha-256'; CREATE ROLE aq_scram_user LOGIN PASSWORD 'scram-secret'",
  "CREATE ROLE aq_expired_user LOGIN PASSWORD 'old-secret' VALID UNTIL '2001-01-01'",
  "CREATE ROLE aq_nologin_user NOLOGIN PASSWORD 'no-secret'",
  "CREATE ROLE aq_superuser SUPERUSER LOGIN PASSWORD 'auth-secret'",
  "CREATE ROLE aq_lookup LOGIN PASSWORD 'lookup-secret'",
  'GRANT ALL ON DATABASE pooler_test TO aq_md5_user, aq_scram_user',
];

// the usual way to give a non-superuser auth_user the secrets: a SECURITY DEFINER function
const LOOKUP_FUNCTION_SQL = [
  `CREATE OR REPLACE FUNCTION public.pooler_lookup(name text, OUT usename text, OUT passwd text)
     RETURNS record LANGUAGE sql SECURITY DEFINER AS
     $$ SELECT rolname::text, rolpassword::text FROM pg_authid WHERE rolname = name AND rolcanlogin $$`,
  'REVOKE ALL ON FUNCTION public.pooler_lookup(text) FROM PUBLIC',
  'GRANT EXECUTE ON FUNCTION public.pooler_lookup(text) TO aq_lookup',
];

beforeAll(async () => {
  for (const sql of ROLES_SQL) await postgres.psql(sql);
  for (const sql of LOOKUP_FUNCTION_SQL) await postgres.psql(sql, { database: 'pooler_test' });
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  pooler = await startPooler({
    settings: { auth_type: 'md5', auth_user: 'aq_superuser', server_idle_timeout: 1 },
    authFile: { aq_superuser: 'auth-secret', aq_lookup: 'lookup-secret', nobody_auth: 'whatever' },
    databases: {
      app: target,
      viafunction: `${target} auth_user=aq_lookup auth_query='SELECT usename, passwd FROM public.pooler_lookup($1)'`,
      elsewhere: `host=${postgres.host} port=${postgres.port} dbname=postgres auth_dbname=app`,
      brokenauth: `${target} auth_user=nobody_auth`,
    },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

async function login(database: string, user: string, password: string): Promise<string> {
  const client = new pg.Client({ connectionString: pooler.url(database, user, password) });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT current_user AS u');
    return rows[0].u;
  } finally {
    await client.end();
  }
}

describe('auth_query with the default query (global auth_user)', () => {
  it('logs in an md5-stored role and a SCRAM-stored role, and PostgreSQL sees them as themselves', async () => {
    expect(await login('app', 'aq_md5_user', 'md5-secret')).toBe('aq_md5_user');
    // auth_type md5 turns to SCRAM for a SCRAM secret; the server login is SCRAM pass-through
    expect(await login('app', 'aq_scram_user', 'scram-secret')).toBe('aq_scram_user');
  });

  it('refuses a wrong password, an unknown role, an expired role and a NOLOGIN role alike (28P01)', async () => {
    for (const [user, password] of [
      ['aq_md5_user', 'wrong'],
      ['aq_scram_user', 'wrong'],
      ['aq_no_such_role', 'x'],
      ['aq_expired_user', 'old-secret'],
      ['aq_nologin_user', 'no-secret'],
    ]) {
      await expect(login('app', user!, password!), user).rejects.toMatchObject({
        code: '28P01',
        message: `password authentication failed for user "${user}"`,
      });
    }
  });

  it('passes the user name as a parameter, so a hostile name is just a name that does not exist', async () => {
    await expect(login('app', "x' OR rolname = 'aq_md5_user", 'md5-secret')).rejects.toMatchObject({ code: '28P01' });
  });

  it('follows a password change made in PostgreSQL at the next login', async () => {
    await postgres.psql("SET password_encryption = 'md5'; ALTER ROLE aq_md5_user PASSWORD 'changed-secret'");
    try {
      await expect(login('app', 'aq_md5_user', 'md5-secret')).rejects.toMatchObject({ code: '28P01' });
      expect(await login('app', 'aq_md5_user', 'changed-secret')).toBe('aq_md5_user');
    } finally {
      await postgres.psql("SET password_encryption = 'md5'; ALTER ROLE aq_md5_user PASSWORD 'md5-secret'");
    }
  });

  it('works for psql', async () => {
    const result = await runTool(
      'psql',
      ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'aq_scram_user', '-c', 'SELECT 7', 'app'],
      { PGPASSWORD: 'scram-secret' },
    );
    expect(result.stdout.trim(), result.stderr).toBe('7');
  });
});

describe('auth_query per database', () => {
  it('runs the database’s own query as its own auth_user (a SECURITY DEFINER function, no superuser)', async () => {
    expect(await login('viafunction', 'aq_md5_user', 'md5-secret')).toBe('aq_md5_user');
    await expect(login('viafunction', 'aq_md5_user', 'nope')).rejects.toMatchObject({ code: '28P01' });
  });

  it('runs the query in auth_dbname when one is given', async () => {
    await postgres.psql('GRANT CONNECT ON DATABASE postgres TO aq_scram_user');
    expect(await login('elsewhere', 'aq_scram_user', 'scram-secret')).toBe('aq_scram_user');
  });

  it('says auth_query failed when auth_user cannot log in, and other databases keep working', async () => {
    await expect(login('brokenauth', 'aq_md5_user', 'md5-secret')).rejects.toMatchObject({
      code: '08006',
      message: expect.stringMatching(/auth_query failed: auth_query: could not log in as auth_user "nobody_auth"/),
    });
    expect(await login('app', 'aq_md5_user', 'md5-secret')).toBe('aq_md5_user');
  });

  it('runs lookups over the extended protocol, as auth_user, and closes the connection after server_idle_timeout', async () => {
    await login('app', 'aq_md5_user', 'md5-secret');
    const open = async () =>
      Number(
        (
          await postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'aq_superuser' AND application_name = 'pooler auth_query'")
        ).trim(),
      );
    expect(await open()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await open()).toBe(0);
  });
});
