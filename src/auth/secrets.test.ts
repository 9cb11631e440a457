// Telling plaintext, md5 and SCRAM secrets apart, and parsing SCRAM secrets strictly.
import { describe, expect, it } from 'vitest';
import { classifySecret, formatScramSecret, isMd5Secret, parseScramSecret } from './secrets.js';

// RFC 7677 user "user", password "pencil"; StoredKey and ServerKey computed independently with
// Python's hashlib.pbkdf2_hmac and hmac (see scram-keys.test.ts).
const RFC_SECRET =
  'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';

describe('classifySecret', () => {
  it('recognises md5 secrets: "md5" and 32 lowercase hex digits', () => {
    expect(classifySecret('md553f48b7c4b76a86ce72276c5755f217d')).toEqual({ kind: 'md5', hash: 'md553f48b7c4b76a86ce72276c5755f217d' });
    expect(isMd5Secret('md553f48b7c4b76a86ce72276c5755f217d')).toBe(true);
  });

  it.each([
    'md553F48B7C4B76A86CE72276C5755F217D', // uppercase: PostgreSQL's charset is lowercase only
    'md553f48b7c4b76a86ce72276c5755f217', // 31 digits
    'md553f48b7c4b76a86ce72276c5755f217dd', // 33 digits
    'md553f48b7c4b76a86ce72276c5755f217g',
  ])('treats %j as a plaintext password', (secret) => {
    expect(classifySecret(secret)).toEqual({ kind: 'plain', password: secret });
  });

  it('parses a SCRAM-SHA-256 secret into iterations, salt and keys', () => {
    const secret = classifySecret(RFC_SECRET);
    expect(secret).toEqual({
      kind: 'scram',
      iterations: 4096,
      salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
      storedKey: Buffer.from('WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=', 'base64'),
      serverKey: Buffer.from('wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=', 'base64'),
    });
  });

  it('parses a secret PostgreSQL 15 wrote (CREATE ROLE alice PASSWORD \'pencil\')', () => {
    const secret = parseScramSecret(
      'SCRAM-SHA-256$4096:PdqPfyjQ7qipbst/acn5PA==$XLv1g8ZxJMuo4zPH3B+UMpAwgnqovNhGBPEs9cVUb8Y=:75VRaH4ZnYyvVf1vmfVqwaZXOIONyOkNNh22wLCI2BM=',
    );
    expect(secret?.iterations).toBe(4096);
    expect(secret?.salt.length).toBe(16);
  });

  it.each([
    ['a SCRAM-SHA-1 scheme', RFC_SECRET.replace('SHA-256', 'SHA-1')],
    ['zero iterations', RFC_SECRET.replace('$4096:', '$0:')],
    ['non-numeric iterations', RFC_SECRET.replace('$4096:', '$4k:')],
    ['iterations beyond int', RFC_SECRET.replace('$4096:', '$2147483648:')],
    ['an empty salt', RFC_SECRET.replace('W22ZaJ0SNY7soEsUEjb6gQ==', '')],
    ['a salt that is not base64', RFC_SECRET.replace('W22ZaJ0SNY7soEsUEjb6gQ==', 'W22Z*J0SNY7soEsUEjb6gQ==')],
    ['a short StoredKey', RFC_SECRET.replace('WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=', 'WG5d8oPm')],
    ['unpadded base64', RFC_SECRET.replace('bsT4qY=', 'bsT4qY')],
    ['a missing ServerKey', RFC_SECRET.slice(0, RFC_SECRET.lastIndexOf(':'))],
  ])('treats a SCRAM secret with %s as plaintext, as PostgreSQL does', (_what, secret) => {
    expect(classifySecret(secret).kind).toBe('plain');
    expect(parseScramSecret(secret)).toBeNull();
  });

  it('treats anything else as plaintext', () => {
    expect(classifySecret('hunter2')).toEqual({ kind: 'plain', password: 'hunter2' });
    expect(classifySecret('')).toEqual({ kind: 'plain', password: '' });
  });
});

describe('formatScramSecret', () => {
  it('writes back exactly what it parsed', () => {
    const { kind: _kind, ...parts } = parseScramSecret(RFC_SECRET)!;
    expect(formatScramSecret(parts)).toBe(RFC_SECRET);
  });
});
