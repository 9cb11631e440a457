// The auth_file (PgBouncer's userlist.txt): one `"user" "secret"` per line, `""` for a quote
// inside a field, the rest of the line ignored, blank lines and `;` or `#` comments skipped.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** A line that is not `"user" "secret"`. Names file and line, never the line's text: it may hold a secret. */
export class AuthFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'AuthFileError';
  }
}

interface Entry {
  user: string;
  secret: string;
}

/**
 * user → stored secret. A later line for the same user wins, as in PgBouncer. Stricter than
 * PgBouncer, which stops reading at the first broken line and keeps what it read so far (and looks
 * for the secret's opening quote across newlines): here a broken line is an error naming file:line.
 */
export function parseAuthFile(text: string, fileName: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const result = parseLine(lines[i]!);
    if (typeof result === 'string') {
      throw new AuthFileError(`${fileName}:${i + 1}: malformed auth_file line: ${result}`, fileName, i + 1);
    }
    if (result !== null) users.set(result.user, result.secret);
  }
  return users;
}

export async function loadAuthFile(path: string): Promise<Map<string, string>> {
  return parseAuthFile(await readFile(path, 'utf8'), path);
}

export function loadAuthFileSync(path: string): Map<string, string> {
  return parseAuthFile(readFileSync(path, 'utf8'), path);
}

/** the entry, null for a blank or comment line, or why the line is malformed */
function parseLine(line: string): Entry | null | string {
  let pos = skipSpace(line, 0);
  if (pos === line.length || line[pos] === ';' || line[pos] === '#') return null;
  if (line[pos] !== '"') return 'expected a double-quoted user name at the start of the line';
  const user = readQuoted(line, pos);
  if (user === null) return 'the quoted user name has no closing quote';
  pos = skipSpace(line, user.end);
  if (pos === line.length) return 'expected a double-quoted secret after the user name, found end of line';
  if (pos === user.end || line[pos] !== '"') return 'expected whitespace and a double-quoted secret after the user name';
  const secret = readQuoted(line, pos);
  if (secret === null) return 'the quoted secret has no closing quote';
  return { user: user.value, secret: secret.value };
}

/** the field whose opening quote is at `start`, with `""` unescaped, and the index just past its closing quote */
function readQuoted(line: string, start: number): { value: string; end: number } | null {
  let value = '';
  let from = start + 1;
  for (;;) {
    const quote = line.indexOf('"', from);
    if (quote < 0) return null;
    value += line.slice(from, quote);
    if (line[quote + 1] !== '"') return { value, end: quote + 1 };
    value += '"';
    from = quote + 2;
  }
}

function skipSpace(line: string, pos: number): number {
  while (pos < line.length && (line[pos] === ' ' || line[pos] === '\t' || line[pos] === '\r' || line[pos] === '\f' || line[pos] === '\v')) pos++;
  return pos;
}
