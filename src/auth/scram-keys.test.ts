// SCRAM key derivation against RFC 7677's example, computed independently.
import { describe, expect, it } from 'vitest';
import { createScramSecret, deriveScramKeys, saltedPassword, scramKeysFromSaltedPassword } from './scram-keys.js';

// RFC 7677's example (password "pencil"), keys computed independently with Python:
//   sp = hashlib.pbkdf2_hmac('sha256', b'pencil', b64decode('W22ZaJ0SNY7soEsUEjb6gQ=='), 4096)
//   ClientKey = hmac(sp, b'Client Key'), StoredKey = sha256(ClientKey), ServerKey = hmac(sp, b'Server Key')
const SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const CLIENT_KEY = 'pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=';
const STORED_KEY = 'WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=';
const SERVER_KEY = 'wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';

describe('SCRAM key derivation', () => {
  it('derives ClientKey, StoredKey and ServerKey from a password', async () => {
    const keys = await deriveScramKeys('pencil', SALT, 4096);
    expect(keys.clientKey.toString('base64')).toBe(CLIENT_KEY);
    expect(keys.storedKey.toString('base64')).toBe(STORED_KEY);
    expect(keys.serverKey.toString('base64')).toBe(SERVER_KEY);
  });

  it('splits into SaltedPassword and the keys made from it', async () => {
    const salted = await saltedPassword('pencil', SALT, 4096);
    expect(salted.length).toBe(32);
    expect(scramKeysFromSaltedPassword(salted).storedKey.toString('base64')).toBe(STORED_KEY);
  });

  it('applies SASLprep to the password first', async () => {
    const prepared = await deriveScramKeys('IX', SALT, 16);
    expect(await deriveScramKeys('I\u00ADX', SALT, 16)).toEqual(prepared);
    expect(await deriveScramKeys('\u2168', SALT, 16)).toEqual(prepared);
  });

  it('rejects an iteration count that is not a positive integer', async () => {
    await expect(saltedPassword('pencil', SALT, 0)).rejects.toThrow(RangeError);
    await expect(saltedPassword('pencil', SALT, 1.5)).rejects.toThrow(RangeError);
  });

  it('builds a secret in pg_authid format', async () => {
    expect(await createScramSecret('pencil', 4096, SALT)).toBe(`SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$${STORED_KEY}:${SERVER_KEY}`);
    expect(await createScramSecret('pencil')).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  });
});
