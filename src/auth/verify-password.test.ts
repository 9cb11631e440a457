// Checking a cleartext password against each kind of stored secret.
import { describe, expect, it } from 'vitest';
import { verifyPlainPassword } from './verify-password.js';

// Secrets written by PostgreSQL 15 itself (password_encryption = scram-sha-256, then md5 for
// mallory) for CREATE ROLE <name> PASSWORD <shown>; PostgreSQL applies SASLprep when it hashes.
const PG = {
  alice: 'SCRAM-SHA-256$4096:PdqPfyjQ7qipbst/acn5PA==$XLv1g8ZxJMuo4zPH3B+UMpAwgnqovNhGBPEs9cVUb8Y=:75VRaH4ZnYyvVf1vmfVqwaZXOIONyOkNNh22wLCI2BM=', // 'pencil'
  bob: 'SCRAM-SHA-256$4096:oyTRROEfRpD4c46zOY4tzg==$Zg8y/kuHlQXAT3rRS8eb3EsNbXa2lhcyLK2l84KTSqU=:X0A+4+xw3OAy/tPJ9TR71HkTWkUtkfRYuLFlVC5VqgI=', // E'I\u00ADX'
  carol: 'SCRAM-SHA-256$4096:lw4FfbERzFfqQ0C8pFsKSQ==$L0u/pRqwmcyFAQUmSyTVcYB7S8KN/BE6JeApHMBvpgA=:t9fEsaNJ1jd9mZRVfQhr07aZmZETVhhWZQxfk041g50=', // E'\u2168'
  dave: 'SCRAM-SHA-256$4096:b8Jm93s+gZ3eN1d0b3Sq0g==$4KSMQc4dYF5x5kpAbP1DZ+R45SVF6il/V5kYNogzc4I=:Rzw4qQYo2AlBgRr82NB52zeIEobC9UY53VG5SBW30Rs=', // E'pass\u00A0word'
  erin: 'SCRAM-SHA-256$4096:Im/5JbkbJMX3iX+8D5N25A==$DHHWQNarlOv51D5Pt6rGq+X+fu4vpX7O37MgLM8oea0=:3viCg6yFdeUM1WvJMwZcn1Fkha21iwbO7x0i7SH6l/w=', // E'\u0627\u0031'
  mallory: 'md5cbe4ab57296952441e29b34e01af41f0', // 'secret'
};

describe('verifyPlainPassword', () => {
  it('compares against a plaintext secret', async () => {
    expect(await verifyPlainPassword('hunter2', 'alice', 'hunter2')).toBe(true);
    expect(await verifyPlainPassword('hunter2', 'alice', 'hunter3')).toBe(false);
    expect(await verifyPlainPassword('hunter2', 'alice', 'hunter22')).toBe(false);
  });

  it('hashes with the user name against an md5 secret', async () => {
    expect(await verifyPlainPassword(PG.mallory, 'mallory', 'secret')).toBe(true);
    expect(await verifyPlainPassword(PG.mallory, 'mallory', 'wrong')).toBe(false);
    expect(await verifyPlainPassword(PG.mallory, 'someone', 'secret')).toBe(false);
  });

  it('derives StoredKey with the secret\'s salt and iterations against a SCRAM secret', async () => {
    expect(await verifyPlainPassword(PG.alice, 'alice', 'pencil')).toBe(true);
    expect(await verifyPlainPassword(PG.alice, 'alice', 'pencil ')).toBe(false);
    // the SCRAM user name plays no part
    expect(await verifyPlainPassword(PG.alice, 'anyone', 'pencil')).toBe(true);
  });

  it.each([
    ['bob', PG.bob, ['IX', 'I\u00ADX']],
    ['carol', PG.carol, ['IX', '\u2168']],
    ['dave', PG.dave, ['pass word', 'pass\u00A0word']],
    ['erin', PG.erin, ['\u0627\u0031']],
  ])('prepares non-ASCII passwords as PostgreSQL did for %s', async (user, secret, passwords) => {
    for (const password of passwords) expect(await verifyPlainPassword(secret, user, password)).toBe(true);
  });

  it('never accepts an empty password, even against an empty plaintext secret', async () => {
    expect(await verifyPlainPassword('', 'alice', '')).toBe(false);
    expect(await verifyPlainPassword('hunter2', 'alice', '')).toBe(false);
    expect(await verifyPlainPassword('', 'alice', 'x')).toBe(false);
  });
});
