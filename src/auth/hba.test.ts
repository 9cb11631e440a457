import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchHba, parseHba, type HbaConnection } from './hba.js';

const base: HbaConnection = { local: false, tls: false, database: 'app', user: 'alice', replication: false, address: '127.0.0.1' };

function methodFor(text: string, connection: Partial<HbaConnection>, file = '/etc/hba.conf'): string | null {
  return matchHba(parseHba(text, file), { ...base, ...connection })?.method ?? null;
}

describe('hba rules', () => {
  it('takes the first matching line, as PostgreSQL does', () => {
    const text = 'host app alice 127.0.0.1/32 reject\nhost all all 0.0.0.0/0 md5\n';
    expect(methodFor(text, {})).toBe('reject');
    expect(methodFor(text, { user: 'bob' })).toBe('md5');
    expect(methodFor(text, { address: '10.1.2.3' })).toBe('md5');
  });

  it('tells hostssl from hostnossl, and local from host', () => {
    const text = 'hostssl all all all scram-sha-256\nhostnossl all all all reject\nlocal all all peer\n';
    expect(methodFor(text, { tls: true })).toBe('scram-sha-256');
    expect(methodFor(text, { tls: false })).toBe('reject');
    expect(methodFor(text, { local: true })).toBe('peer');
  });

  it('matches addresses by CIDR, by address and netmask, and IPv4-mapped IPv6 as IPv4', () => {
    const text = 'host all all 10.0.0.0 255.0.0.0 trust\nhost all all ::1/128 md5\nhost all all 192.168.1.0/24 password\n';
    expect(methodFor(text, { address: '10.200.3.4' })).toBe('trust');
    expect(methodFor(text, { address: '::1' })).toBe('md5');
    expect(methodFor(text, { address: '::ffff:192.168.1.77' })).toBe('plain');
    expect(methodFor(text, { address: '192.168.2.1' })).toBeNull();
  });

  it('knows sameuser, replication, lists, quoted keywords and @files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hba-'));
    writeFileSync(join(dir, 'admins'), 'carol\n# a comment\ndave, erin\n');
    const text = 'host sameuser all all trust\nhost replication all all cert\nhost "all" @admins all md5\nhost db1,db2 bob,"all" all password\n';
    const file = join(dir, 'hba.conf');
    expect(methodFor(text, { database: 'alice' }, file)).toBe('trust');
    expect(methodFor(text, { replication: true }, file)).toBe('cert');
    expect(methodFor(text, { database: 'all', user: 'erin' }, file)).toBe('md5');
    expect(methodFor(text, { database: 'app', user: 'erin' }, file)).toBeNull();
    expect(methodFor(text, { database: 'db2', user: 'all' }, file)).toBe('plain');
    expect(methodFor(text, { database: 'db2', user: 'zed' }, file)).toBeNull();
  });

  it('keeps map= for cert rules', () => {
    expect(parseHba('hostssl all all all cert map=certs\n', 'f')[0]).toMatchObject({ method: 'cert', map: 'certs' });
  });

  it('names file and line for what it cannot use', () => {
    expect(() => parseHba('\nhost all all all ldap\n', '/x/hba.conf')).toThrow('/x/hba.conf:2: unsupported authentication method "ldap"');
    expect(() => parseHba('host all +admins all md5\n', 'f')).toThrow('f:1: "+admins": group membership is not supported');
    expect(() => parseHba('host all all db.example.com md5\n', 'f')).toThrow('host names are not supported');
    expect(() => parseHba('hostgssenc all all all md5\n', 'f')).toThrow('unknown connection type "hostgssenc"');
    expect(() => parseHba('host all all 10.0.0.0 255.0.255.0 md5\n', 'f')).toThrow('invalid netmask');
  });
});
