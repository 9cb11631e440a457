// MD5 password hashes and challenge answers, against vectors computed outside Node.
import { describe, expect, it } from 'vitest';
import { md5PasswordHash, md5Response, verifyMd5Response } from './md5.js';

// Vectors computed outside Node with coreutils:
//   printf 'secretpostgres' | md5sum                                   → 53f48b7c4b76a86ce72276c5755f217d
//   { printf 53f48b7c4b76a86ce72276c5755f217d; printf '\x01\x02\x03\x04'; } | md5sum → bb41a296aab6baccb36ff243a562abff
//   { printf 53f48b7c4b76a86ce72276c5755f217d; printf '\x93\x7a\xff\x00'; } | md5sum → 522b8136d5a6272965ab717ef8ec0ec6
const POSTGRES_SECRET = 'md553f48b7c4b76a86ce72276c5755f217d';
const SALT_A = Buffer.from([0x01, 0x02, 0x03, 0x04]);
const SALT_B = Buffer.from([0x93, 0x7a, 0xff, 0x00]);
const RESPONSE_A = 'md5bb41a296aab6baccb36ff243a562abff';
const RESPONSE_B = 'md5522b8136d5a6272965ab717ef8ec0ec6';

describe('md5PasswordHash', () => {
  it('is md5 + md5hex(password + user)', () => {
    expect(md5PasswordHash('postgres', 'secret')).toBe(POSTGRES_SECRET);
  });

  it('matches what PostgreSQL 15 stored (password_encryption = md5; CREATE ROLE mallory PASSWORD \'secret\')', () => {
    expect(md5PasswordHash('mallory', 'secret')).toBe('md5cbe4ab57296952441e29b34e01af41f0');
  });
});

describe('md5Response', () => {
  it('answers a challenge from the plaintext password', () => {
    expect(md5Response('postgres', 'secret', SALT_A)).toBe(RESPONSE_A);
    expect(md5Response('postgres', 'secret', SALT_B)).toBe(RESPONSE_B);
  });

  it('answers the same from the stored md5 secret', () => {
    expect(md5Response('postgres', POSTGRES_SECRET, SALT_A)).toBe(RESPONSE_A);
    expect(md5Response('postgres', POSTGRES_SECRET, SALT_B)).toBe(RESPONSE_B);
  });

  it('refuses a SCRAM secret and a salt that is not 4 bytes', () => {
    const scram =
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';
    expect(() => md5Response('user', scram, SALT_A)).toThrow(/SCRAM secret/);
    expect(() => md5Response('postgres', 'secret', Buffer.alloc(3))).toThrow(/4 bytes/);
  });
});

describe('verifyMd5Response', () => {
  it('accepts the right answer against a plaintext or an md5 secret', () => {
    expect(verifyMd5Response('secret', 'postgres', SALT_A, RESPONSE_A)).toBe(true);
    expect(verifyMd5Response(POSTGRES_SECRET, 'postgres', SALT_A, RESPONSE_A)).toBe(true);
  });

  it('rejects a wrong answer, another salt, another user, or a malformed answer', () => {
    expect(verifyMd5Response('secret', 'postgres', SALT_A, RESPONSE_B)).toBe(false);
    expect(verifyMd5Response('secret', 'postgres', SALT_B, RESPONSE_A)).toBe(false);
    expect(verifyMd5Response('secret', 'other', SALT_A, RESPONSE_A)).toBe(false);
    expect(verifyMd5Response('secret', 'postgres', SALT_A, RESPONSE_A.slice(0, -1))).toBe(false);
    expect(verifyMd5Response('secret', 'postgres', SALT_A, '')).toBe(false);
  });

  it('never accepts against an empty password or a SCRAM secret', () => {
    expect(verifyMd5Response('', 'postgres', SALT_A, md5Response('postgres', '', SALT_A))).toBe(false);
    const scram =
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';
    expect(verifyMd5Response(scram, 'user', SALT_A, md5Response('user', 'pencil', SALT_A))).toBe(false);
  });
});
