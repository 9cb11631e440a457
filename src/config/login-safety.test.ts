// Configurations that would let strangers in are refused at load: auth_type = any on a database
// without a forced user (wherever the entry came from), and a trust default on a listener other
// machines can reach.
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorOf, loadConfigText } from '../testing/config-files.js';
import { removeScratchDirs } from '../testing/scratch-dir.js';
import { isLoopbackOnly } from './login-safety.js';

afterAll(removeScratchDirs);

const loadWith = (text: string | null, env: Record<string, string> = {}) => loadConfigText(text, env, 'pooler-safety-');

describe('auth_type = any needs a forced user on every database', () => {
  it('loads when every entry, the * fallback included, has user=', () => {
    const config = loadWith('[pooler]\nauth_type = any\n[databases]\napp = host=db user=app\n* = host=db user=guest\n');
    expect(config.settings.auth_type).toBe('any');
  });

  it('refuses an entry without user=, naming its file:line and the line that set auth_type', () => {
    const err = configErrorOf(() => loadWith('[pooler]\nauth_type = any\n[databases]\nforced = host=db user=app\nopen = host=db\n'));
    expect(err.message).toMatch(/^pooler\.ini:5: database "open": auth_type = any \(pooler\.ini:2\) needs a forced user/);
    expect(err.message).toContain('add user=');
    expect([err.file, err.line, err.key]).toEqual(['pooler.ini', 5, 'open']);
  });

  it('refuses a * fallback without user=', () => {
    const err = configErrorOf(() => loadWith('[pooler]\nauth_type = any\n[databases]\napp = host=db user=app\n* = host=db\n'));
    expect(err.message).toMatch(/^pooler\.ini:5: database "\*": auth_type = any/);
  });

  it('refuses the databases DATABASE_URL defines, whose user is not a forced one', () => {
    const err = configErrorOf(() => loadWith('[pooler]\nauth_type = any\n', { DATABASE_URL: 'postgres://app:pw@db/app' }));
    expect(err.message).toMatch(/^DATABASE_URL: database "app": auth_type = any \(pooler\.ini:2\) needs a forced user/);
    expect(err.key).toBe('app');
    // the file's own * with user= takes the URL's place; the URL's database itself still has none
    const stillOpen = configErrorOf(() => loadWith('[pooler]\nauth_type = any\n[databases]\n* = host=db user=guest\n', { DATABASE_URL: 'postgres://app@db/app' }));
    expect(stillOpen.message).toMatch(/^DATABASE_URL: database "app"/);
  });

  it('refuses POOLER_AUTH_TYPE=any with no file, whose local fallback has no user', () => {
    const err = configErrorOf(() => loadWith(null, { POOLER_AUTH_TYPE: 'any' }));
    expect(err.message).toMatch(/^default \(no config file\): database "\*": auth_type = any \(env POOLER_AUTH_TYPE\) needs a forced user/);
  });
});

describe('no config file: trust only on loopback', () => {
  it('keeps `npm start` as it was: trust on 127.0.0.1:6432, metrics on loopback', () => {
    const { settings } = loadWith(null);
    expect([settings.auth_type, settings.listen_addr, settings.listen_port, settings.metrics_listen_addr]).toEqual(['trust', '127.0.0.1', 6432, '127.0.0.1']);
    expect(loadWith(null, { POOLER_LISTEN_ADDR: 'localhost', DATABASE_URL: 'postgres://app@db/app' }).settings.auth_type).toBe('trust');
  });

  it.each(['0.0.0.0', '*', '::', '10.1.2.3', 'pooler.internal', ''])('refuses to default to trust on listen_addr %j, saying what to set', (listen) => {
    const err = configErrorOf(() => loadWith(null, { POOLER_LISTEN_ADDR: listen, DATABASE_URL: 'postgres://app@db/app' }));
    expect(err.key).toBe('auth_type');
    expect(err.message).toContain(`listen_addr = ${listen} (env POOLER_LISTEN_ADDR) can be reached from other machines`);
    expect(err.message).toMatch(/Set POOLER_AUTH_TYPE .*put the password in DATABASE_URL, or set POOLER_LISTEN_ADDR=127\.0\.0\.1$/);
  });

  it('uses md5 there when DATABASE_URL has a password, and whatever auth_type the operator set', () => {
    const open = { POOLER_LISTEN_ADDR: '0.0.0.0' };
    expect(loadWith(null, { ...open, DATABASE_URL: 'postgres://app:pw@db/app' }).settings.auth_type).toBe('md5');
    expect(loadWith(null, { ...open, POOLER_AUTH_TYPE: 'trust' }).settings.auth_type).toBe('trust');
    expect(loadWith(null, { ...open, POOLER_AUTH_FILE: '/etc/pooler/userlist.txt' }).settings.auth_type).toBe('md5');
  });

  it('leaves a config file alone: its default is md5, as PgBouncer\'s', () => {
    expect(loadWith('[pooler]\nlisten_addr = *\n[databases]\n* = host=db\n').settings.auth_type).toBe('md5');
  });
});

describe('isLoopbackOnly', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['127.0.0.1, ::1', true],
    ['127.0.0.1,0.0.0.0', false],
    ['0.0.0.0', false],
    ['*', false],
    ['', false],
    ['128.0.0.1', false],
    ['127.example.com', false],
  ])('%j → %s', (listen, expected) => {
    expect(isLoopbackOnly(listen)).toBe(expected);
  });
});
