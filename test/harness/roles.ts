// The roles, database and client-auth rules every test may rely on, one per server login method,
// so tests can check that the pooler logs in to PostgreSQL with trust, cleartext, md5 and SCRAM.

export const TEST_DATABASE = 'pooler_test';

/** pg_hba.conf lines, first match wins; `postgres` is trusted so the harness can administer */
export const HBA_LINES = [
  'host all trust_user 0.0.0.0/0 trust',
  'host all md5_user 0.0.0.0/0 md5',
  'host all password_user 0.0.0.0/0 password',
  // auth_query's md5 users: PostgreSQL's scram-sha-256 method cannot check an md5-stored password
  'host all aq_md5_user 0.0.0.0/0 md5',
  'host all postgres 0.0.0.0/0 trust',
  'local all postgres trust',
  'host all all 0.0.0.0/0 scram-sha-256',
];

/** run once as `postgres` after the server starts, each its own psql -c in one session */
export const SETUP_SQL = [
  "SET password_encryption = 'md5'",
  "CREATE ROLE md5_user LOGIN PASSWORD 'md5pass'",
  "SET password_encryption = 'scram-sha-256'",
  'CREATE ROLE trust_user LOGIN',
  "CREATE ROLE password_user LOGIN PASSWORD 'cleartextpass'",
  "CREATE ROLE scram_user LOGIN PASSWORD 'scrampass'",
  `CREATE DATABASE ${TEST_DATABASE}`,
  `GRANT ALL ON DATABASE ${TEST_DATABASE} TO trust_user, md5_user, password_user, scram_user`,
];

/** per-database grants, run inside TEST_DATABASE (PostgreSQL 15 no longer lets PUBLIC create in public) */
export const DATABASE_SQL = ['GRANT ALL ON SCHEMA public TO PUBLIC'];
