// userlist.txt parsing: quoting rules, comments, and errors that name file:line but never the secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthFileError, loadAuthFile, loadAuthFileSync, parseAuthFile } from './auth-file.js';

function errorOf(text: string): AuthFileError {
  try {
    parseAuthFile(text, 'userlist.txt');
  } catch (err) {
    expect(err).toBeInstanceOf(AuthFileError);
    return err as AuthFileError;
  }
  throw new Error('expected parseAuthFile to throw');
}

describe('parseAuthFile', () => {
  it('reads "user" "secret" pairs and ignores the rest of the line', () => {
    const users = parseAuthFile('"alice" "pw1"\n"bob" "md5abc" extra "fields" ignored\n', 'userlist.txt');
    expect([...users]).toEqual([
      ['alice', 'pw1'],
      ['bob', 'md5abc'],
    ]);
  });

  it('unescapes "" inside either field', () => {
    const users = parseAuthFile('"a""b" "p""w""d"\n"""q" """"\n', 'f');
    expect(users.get('a"b')).toBe('p"w"d');
    expect(users.get('"q')).toBe('"');
  });

  it('skips blank lines and ; or # comments, indented or not', () => {
    const text = '; header\n\n   \n# hash comment\n  ; indented\n\t"alice"\t"pw"\n';
    expect([...parseAuthFile(text, 'f')]).toEqual([['alice', 'pw']]);
  });

  it('accepts CRLF line ends, a byte-order mark, and keeps spaces inside quotes', () => {
    const users = parseAuthFile('\uFEFF"alice" " spaced pw "\r\n"bob" "x"\r\n', 'f');
    expect(users.get('alice')).toBe(' spaced pw ');
    expect(users.get('bob')).toBe('x');
  });

  it('allows an empty secret, and a later line for the same user wins (as PgBouncer)', () => {
    const users = parseAuthFile('"alice" ""\n"bob" "one"\n"bob" "two"\n', 'f');
    expect(users.get('alice')).toBe('');
    expect(users.get('bob')).toBe('two');
  });

  it('keeps SCRAM secrets with $ : / + = intact', () => {
    const secret = 'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=';
    expect(parseAuthFile(`"user" "${secret}"`, 'f').get('user')).toBe(secret);
  });

  it.each([
    ['alice "hunter2"', 'expected a double-quoted user name'],
    ['"alice hunter2', 'user name has no closing quote'],
    ['"alice"', 'found end of line'],
    ['"alice" "hunter2', 'secret has no closing quote'],
    ['"alice" hunter2', 'expected whitespace and a double-quoted secret'],
    ['"alice"x "hunter2"', 'expected whitespace and a double-quoted secret'],
  ])('rejects %j naming file:line, without the secret', (line, reason) => {
    const err = errorOf(`; users\n"ok" "fine"\n${line}\n"later" "x"\n`);
    expect(err.message).toContain('userlist.txt:3: malformed auth_file line');
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain('hunter2');
    expect(err.file).toBe('userlist.txt');
    expect(err.line).toBe(3);
  });
});

describe('loadAuthFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pooler-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file asynchronously and synchronously', async () => {
    const path = join(dir, 'userlist.txt');
    writeFileSync(path, '"alice" "pw"\n');
    expect((await loadAuthFile(path)).get('alice')).toBe('pw');
    expect(loadAuthFileSync(path).get('alice')).toBe('pw');
  });

  it('names the file it read in a parse error', async () => {
    const path = join(dir, 'broken.txt');
    writeFileSync(path, '"alice" "pw"\n"bob"\n');
    await expect(loadAuthFile(path)).rejects.toThrow(`${path}:2:`);
  });

  it('passes a missing file through as the file system error', async () => {
    await expect(loadAuthFile(join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
