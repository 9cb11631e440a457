// Configurations that would let strangers in are refused at load: auth_type = any on a database
// without a forced user (wherever the entry came from).
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorOf, loadConfigText } from '../testing/config-files.js';
import { removeScratchDirs } from '../testing/scratch-dir.js';

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
