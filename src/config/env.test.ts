// DATABASE_URL and POOLER_* layered over the file, with the origin of each value.
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorOf, loadConfigText } from '../testing/config-files.js';
import { removeScratchDirs } from '../testing/scratch-dir.js';
import { parseDatabaseUrl } from './index.js';

afterAll(removeScratchDirs);

const loadWith = (text: string | null, env: Record<string, string | undefined>) => loadConfigText(text, env, 'pooler-env-');

describe('parseDatabaseUrl', () => {
  it('reads user, password, host, port and dbname', () => {
    expect(parseDatabaseUrl('postgres://app:s3cret@db.internal:5433/orders')).toEqual({
      host: 'db.internal',
      port: 5433,
      dbname: 'orders',
      user: 'app',
      password: 's3cret',
      startup_parameters: {},
      warnings: [],
    });
  });

  it('accepts postgresql:// and percent-decodes every part', () => {
    const url = parseDatabaseUrl('postgresql://us%40er:p%40ss%3Aw%2Frd@localhost/my%20db');
    expect(url).toMatchObject({ user: 'us@er', password: 'p@ss:w/rd', host: 'localhost', port: 5432, dbname: 'my db' });
  });

  it('takes a Unix socket directory from ?host= or a percent-encoded host', () => {
    expect(parseDatabaseUrl('postgres:///app?host=/var/run/postgresql')).toMatchObject({ host: '/var/run/postgresql', dbname: 'app' });
    expect(parseDatabaseUrl('postgres://%2Ftmp:5499/app')).toMatchObject({ host: '/tmp', port: 5499 });
  });

  it('reads IPv6 hosts, multiple hosts and query parameters', () => {
    expect(parseDatabaseUrl('postgres://[::1]:6000/db')).toMatchObject({ host: '::1', port: 6000 });
    expect(parseDatabaseUrl('postgres://a:5432,b:5432/db')).toMatchObject({ host: 'a,b', port: 5432 });
    const url = parseDatabaseUrl('postgres://h/db?application_name=web&port=7000&user=u&password=p&connect_timeout=5&sslmode=disable');
    expect(url).toMatchObject({ port: 7000, user: 'u', password: 'p', startup_parameters: { application_name: 'web' } });
    expect(url.warnings).toEqual(['DATABASE_URL: parameter "connect_timeout" is ignored']);
  });

  it('warns that sslmode=require cannot be honoured', () => {
    expect(parseDatabaseUrl('postgres://h/db?sslmode=require').warnings[0]).toMatch(/sslmode=require is ignored/);
  });

  it('has no user, password or dbname when the URL has none', () => {
    expect(parseDatabaseUrl('postgres://localhost')).toMatchObject({ user: null, password: null, dbname: null, host: 'localhost' });
    expect(parseDatabaseUrl('postgres://bob@localhost/db')).toMatchObject({ user: 'bob', password: null });
  });

  it('rejects what it cannot use, naming DATABASE_URL', () => {
    for (const [url, message] of [
      ['mysql://x/y', 'DATABASE_URL: expected a URL of the form postgres://'],
      ['postgres://h:99999/db', 'DATABASE_URL: invalid port "99999"'],
      ['postgres://h:abc/db', 'DATABASE_URL: invalid port "abc"'],
      ['postgres://a:1,b:2/db', 'DATABASE_URL: hosts with different ports'],
      ['postgres://u:%zz@h/db', 'DATABASE_URL: bad percent-encoding in the password'],
    ] as const) {
      const err = configErrorOf(() => parseDatabaseUrl(url));
      expect(err.message.startsWith(message), err.message).toBe(true);
      expect([err.file, err.line, err.key]).toEqual([null, null, 'DATABASE_URL']);
    }
  });
});

describe('loadConfig with no file', () => {
  it('passes any database through to a local PostgreSQL with trust auth', () => {
    const config = loadWith(null, {});
    expect(config.file).toBeNull();
    expect(config.databases.size).toBe(0);
    expect(config.fallback).toMatchObject({ name: '*', host: '127.0.0.1', port: 5432, dbname: '', user: null });
    expect(config.settings.auth_type).toBe('trust');
    expect(config.origins.get('auth_type')).toBe('default (no config file)');
    expect(config.origins.get('databases.*')).toBe('default (no config file)');
    expect(config.settings.listen_addr).toBe('127.0.0.1');
    expect(config.settings.listen_port).toBe(6432);
    expect(config.warnings).toEqual([]);
  });

  it('defines the DATABASE_URL database and a fallback to the same server, with md5 for its credentials', () => {
    const config = loadWith(null, { DATABASE_URL: 'postgres://app:pw@10.0.0.5:5433/orders?application_name=web' });
    expect(config.databases.get('orders')).toMatchObject({
      name: 'orders',
      host: '10.0.0.5',
      port: 5433,
      dbname: 'orders',
      user: null,
      password: null,
      startup_parameters: { application_name: 'web' },
    });
    expect(config.fallback).toMatchObject({ name: '*', host: '10.0.0.5', port: 5433, dbname: '', user: null });
    expect([...config.urlCredentials]).toEqual([['app', 'pw']]);
    expect(config.settings.auth_type).toBe('md5');
    expect(config.origins.get('auth_type')).toBe('default (no config file)');
    expect(config.origins.get('databases.orders')).toBe('DATABASE_URL');
    expect(config.origins.get('databases.*')).toBe('DATABASE_URL');
  });

  it('uses trust when DATABASE_URL has no password', () => {
    const config = loadWith(null, { DATABASE_URL: 'postgres://app@localhost/orders' });
    expect(config.urlCredentials.size).toBe(0);
    expect(config.settings.auth_type).toBe('trust');
  });

  it('keeps md5 when an auth_file is set from the environment', () => {
    const config = loadWith(null, { POOLER_AUTH_FILE: '/etc/pooler/userlist.txt' });
    expect(config.settings.auth_type).toBe('md5');
    expect(config.origins.get('auth_type')).toBe('default');
  });

  it('uses the socket directory for a DATABASE_URL without a host', () => {
    const config = loadWith(null, { DATABASE_URL: 'postgres:///orders', POOLER_UNIX_SOCKET_DIR: '/run/postgresql' });
    expect(config.databases.get('orders')?.host).toBe('/run/postgresql');
  });

  it('falls back to the user name for the database, as libpq does', () => {
    const config = loadWith(null, { DATABASE_URL: 'postgres://alice:pw@db' });
    expect(config.databases.get('alice')?.dbname).toBe('alice');
  });

  it('does not define the admin console name from DATABASE_URL', () => {
    const config = loadWith(null, { DATABASE_URL: 'postgres://h/pgbouncer' });
    expect(config.databases.size).toBe(0);
    expect(config.fallback?.host).toBe('h');
    expect(config.warnings[0]).toMatch(/admin console's name/);
  });
});

describe('layering: file, POOLER_*, DATABASE_URL', () => {
  const FILE = '[pooler]\npool_mode = session\nauth_file = /etc/userlist.txt\n[databases]\norders = host=primary.internal dbname=orders_prod\n';

  it('lets POOLER_* override the file, and records the variable as origin', () => {
    const config = loadWith(FILE, { POOLER_POOL_MODE: 'transaction', POOLER_DEFAULT_POOL_SIZE: 'auto', POOLER_SERVER_CORES: '2' });
    expect(config.settings.pool_mode).toBe('transaction');
    expect(config.origins.get('pool_mode')).toBe('env POOLER_POOL_MODE');
    expect(config.settings.default_pool_size).toBe(5);
    expect(config.settings.default_pool_size_auto).toBe(true);
    expect(config.origins.get('default_pool_size')).toBe('env POOLER_DEFAULT_POOL_SIZE');
    expect(config.origins.get('auth_file')).toBe('pooler.ini:3');
  });

  it('keeps the file\'s database over DATABASE_URL\'s, and notes it in origins', () => {
    const config = loadWith(FILE, { DATABASE_URL: 'postgres://app:pw@other-host/orders' });
    expect(config.databases.get('orders')).toMatchObject({ host: 'primary.internal', dbname: 'orders_prod' });
    expect(config.origins.get('databases.orders')).toBe('pooler.ini:5 (wins over DATABASE_URL)');
    // no * in the file, so the URL's server becomes the fallback; its password is still usable
    expect(config.fallback).toMatchObject({ host: 'other-host', port: 5432 });
    expect(config.urlCredentials.get('app')).toBe('pw');
    expect(config.settings.auth_type).toBe('md5');
    expect(config.origins.get('auth_type')).toBe('default');
  });

  it('keeps the file\'s * fallback over DATABASE_URL\'s', () => {
    const config = loadWith(`${FILE}* = host=fallback.internal\n`, { DATABASE_URL: 'postgres://h/newdb' });
    expect(config.fallback?.host).toBe('fallback.internal');
    expect(config.databases.get('newdb')?.host).toBe('h');
  });

  it('does not add a local fallback when a file is given', () => {
    expect(loadWith(FILE, {}).fallback).toBeNull();
  });

  it('warns about POOLER_* variables that are not settings, and skips the CLI\'s own', () => {
    const config = loadWith(FILE, {
      POOLER_POOL_MOD: 'x',
      POOLER_SO_REUSEPORT: '1',
      POOLER_DEFAULT_POOL_SIZE_AUTO: '1',
      POOLER_CONFIG: '/etc/pooler.ini',
      POOLER_LOG_LEVEL: 'debug',
      POOLER_UNSET: undefined,
    });
    expect(config.warnings).toEqual([
      'environment variable POOLER_DEFAULT_POOL_SIZE_AUTO: unknown parameter "default_pool_size_auto", ignored; did you mean POOLER_DEFAULT_POOL_SIZE?',
      'environment variable POOLER_POOL_MOD: unknown parameter "pool_mod", ignored; did you mean POOLER_POOL_MODE?',
      'environment variable POOLER_SO_REUSEPORT: "so_reuseport" is a PgBouncer setting pooler does not support yet; it is ignored',
    ]);
  });

  it('rejects a bad POOLER_* value, naming the variable', () => {
    const err = configErrorOf(() => loadWith(FILE, { POOLER_POOL_MODE: 'sesion' }));
    expect(err.message).toBe(
      'environment variable POOLER_POOL_MODE: key "pool_mode": invalid value "sesion" (expected session, transaction or statement)',
    );
    expect([err.file, err.line, err.key]).toEqual([null, null, 'POOLER_POOL_MODE']);
  });

  it('reads time values from the environment too', () => {
    expect(loadWith(FILE, { POOLER_QUERY_WAIT_TIMEOUT: '250ms' }).settings.query_wait_timeout).toBe(250);
  });
});
