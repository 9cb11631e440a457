// check-config's description of the effective settings and the diff a reload reports.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeScratchDirs, scratchDir } from '../testing/scratch-dir.js';
import { describeConfig, diffConfig, isEmptyDiff, loadConfig } from './index.js';

afterAll(removeScratchDirs);

function load(text: string, env: Record<string, string> = {}) {
  const dir = scratchDir('pooler-describe-');
  writeFileSync(path.join(dir, 'pooler.ini'), text);
  return loadConfig({ file: 'pooler.ini', env, cwd: dir });
}

const BASE = `[pooler]
pool_mode = transaction
default_pool_size = auto
auth_type = trust
so_reuseport = 1
[databases]
app = host=10.0.0.1 dbname=app_prod user=svc password=secret pool_size=5 application_name=web
* = host=10.0.0.1
[users]
batch = pool_mode=session query_timeout=600
`;

describe('describeConfig', () => {
  it('lists every setting with value and origin, then databases, users and warnings', () => {
    const text = describeConfig(load(BASE, { POOLER_LISTEN_PORT: '7432' }));
    expect(text).toMatch(/^config file: .*pooler\.ini\n/);
    expect(text).toMatch(/\n {2}key +value +origin\n/);
    expect(text).toMatch(/\n {2}pool_mode +transaction +pooler\.ini:2\n/);
    expect(text).toMatch(/\n {2}listen_port +7432 +env POOLER_LISTEN_PORT\n/);
    expect(text).toMatch(/\n {2}server_lifetime +3600s +default\n/);
    expect(text).toMatch(/\n {2}default_pool_size +9 \(auto: 4 × 2 \+ 1 = 9\) +pooler\.ini:3\n/);
    expect(text).toMatch(/\n {2}admin_users +\(empty\) +default\n/);
    expect(text).toMatch(/\n {2}auth_file +\(not set\) +default\n/);
    expect(text).toMatch(/\n {2}app +10\.0\.0\.1:5432\/app_prod +user=svc password=\*\*\* pool_size=5 application_name=web +pooler\.ini:7\n/);
    expect(text).toMatch(/\n {2}\* +10\.0\.0\.1:5432\/<requested name> \(any other name\) +pooler\.ini:8\n/);
    expect(text).toMatch(/\n {2}batch +pool_mode=session query_timeout=600 +pooler\.ini:10\n/);
    expect(text).toContain('\nwarnings\n  - pooler.ini:5: "so_reuseport" is a PgBouncer setting');
    expect(text).not.toContain('secret');
  });

  it('prints the read-replica keys of a database as they would be written', () => {
    const text = describeConfig(load(`${BASE}[databases]\nro = host=a,b weight=3,1 load_balance=power_of_two read_write_split=1 max_replica_lag=500ms\n[pooler]\nmax_replica_lag = 64MB\n`));
    expect(text).toMatch(/\n {2}ro +a:5432\/ro +load_balance=power_of_two weight=3,1 read_write_split=1 max_replica_lag=0\.5s +pooler\.ini:\d+\n/);
    expect(text).toMatch(/\n {2}max_replica_lag +64MB +pooler\.ini:\d+\n/);
  });

  it('says so when there is no file, nothing configured and nothing to warn about', () => {
    const text = describeConfig(loadConfig({ env: {} }));
    expect(text).toMatch(/^config file: none \(defaults and environment only\)\n/);
    expect(text).toMatch(/\n {2}auth_type +trust +default \(no config file\)\n/);
    expect(text).toContain('\nusers\n  (none)\n');
    expect(text).toMatch(/\nwarnings\n {2}\(none\)\n$/);
  });
});

describe('diffConfig', () => {
  it('is empty for the same file loaded twice', () => {
    const diff = diffConfig(load(BASE), load(BASE));
    expect(isEmptyDiff(diff)).toBe(true);
    expect(diff.databases.reconnect).toEqual([]);
  });

  it('names changed settings, and those that need a restart', () => {
    const after = load(BASE.replace('pool_mode = transaction', 'pool_mode = session\nlisten_port = 7000'));
    const diff = diffConfig(load(BASE), after);
    expect(diff.settings).toEqual(['listen_port', 'pool_mode']);
    expect(diff.restartRequired).toEqual(['listen_port']);
    expect(isEmptyDiff(diff)).toBe(false);
  });

  it('sees an auto pool size change through server_cores', () => {
    const diff = diffConfig(load(BASE), load(BASE.replace('[databases]', 'server_cores = 8\n[databases]')));
    expect(diff.settings).toEqual(['default_pool_size', 'server_cores']);
  });

  it('names added, removed and changed databases and users, and which databases need new servers', () => {
    const after = load(
      BASE.replace('pool_size=5', 'pool_size=10')
        .replace('* = host=10.0.0.1', '* = host=10.0.0.2\nreports = host=10.0.0.3')
        .replace('batch = pool_mode=session query_timeout=600', 'etl = pool_size=2'),
    );
    const diff = diffConfig(load(BASE), after);
    expect(diff.databases).toEqual({ added: ['reports'], removed: [], changed: ['app', '*'], reconnect: ['*'], rediscover: ['*'] });
    expect(diff.users).toEqual({ added: ['etl'], removed: ['batch'], changed: [] });
  });

  it('asks for new servers when startup parameters change, whatever their order', () => {
    const before = load('[databases]\na = host=h client_encoding=UTF8 timezone=UTC\n');
    const same = load('[databases]\na = timezone=UTC host=h client_encoding=UTF8\n');
    const changed = load('[databases]\na = host=h client_encoding=UTF8 timezone=CET\n');
    expect(diffConfig(before, same).databases.changed).toEqual([]);
    expect(diffConfig(before, changed).databases.reconnect).toEqual(['a']);
  });

  it('starts discovery afresh when target_session_attrs changes, without asking for new servers', () => {
    const before = load('[databases]\na = host=h1,h2 target_session_attrs=read-write\n');
    const after = load('[databases]\na = host=h1,h2 target_session_attrs=any\n');
    expect(diffConfig(before, after).databases).toMatchObject({ changed: ['a'], reconnect: [], rediscover: ['a'] });
  });

  it('notices DATABASE_URL credential changes', () => {
    const a = load(BASE, { DATABASE_URL: 'postgres://u:one@h/db' });
    const b = load(BASE, { DATABASE_URL: 'postgres://u:two@h/db' });
    expect(diffConfig(a, b).credentialsChanged).toBe(true);
  });
});
