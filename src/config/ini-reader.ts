// PgBouncer's ini syntax (lib/usual cfparser.c): [sections], `key = value` lines, ; and # comment
// lines, quoted keys, and `%include`. It yields a flat list of lines, each with its file and line
// number; what the sections and keys mean is the loader's business.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, configError } from './errors.js';

export type IniEvent =
  | { kind: 'section'; name: string; file: string; line: number }
  | { kind: 'entry'; key: string; value: string; file: string; line: number };

/** PgBouncer's MAX_INCLUDE */
export const MAX_INCLUDE_DEPTH = 10;

export interface ReadIniOptions {
  /** where relative %include paths are looked up first; PgBouncer uses the working directory */
  cwd?: string;
}

/**
 * Read `file` and the files it includes. An included file is read as if pasted in place of the
 * %include line, so it continues the current section and may change it, as in PgBouncer.
 */
export function readIniFile(file: string, options: ReadIniOptions = {}): IniEvent[] {
  const events: IniEvent[] = [];
  const cwd = options.cwd ?? process.cwd();
  const fullPath = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(fullPath, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read config file: ${(err as Error).message}`, file, null, null);
  }
  parseIniText(text, { display: file, fullPath }, 0, cwd, events);
  return events;
}

/** a file as messages name it (the way the user wrote it) and as it is opened */
interface IniFile {
  display: string;
  fullPath: string;
}

function parseIniText(text: string, source: IniFile, depth: number, cwd: string, events: IniEvent[]): void {
  const file = source.display;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = lines[index]!.trim();
    const where = { file, line: lineNo };
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;

    if (line.startsWith('[')) {
      const match = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(line);
      if (!match) throw configError(where, line, `syntax error: a section header looks like [databases], got "${line}"`);
      events.push({ kind: 'section', name: match[1]!.trim(), file, line: lineNo });
      continue;
    }

    if (line.startsWith('%')) {
      const match = /^%include\s+(.+)$/.exec(line);
      if (!match) throw configError(where, line, `syntax error: the only directive is "%include <file>", got "${line}"`);
      const target = match[1]!.trim();
      if (depth + 1 > MAX_INCLUDE_DEPTH) {
        throw configError(where, '%include', `%include "${target}": nested more than ${MAX_INCLUDE_DEPTH} deep (does a file include itself?)`);
      }
      const included = resolveInclude(target, source, cwd);
      if (included === null) {
        const tried = path.isAbsolute(target)
          ? target
          : `${path.resolve(cwd, target)} and ${path.resolve(path.dirname(source.fullPath), target)}`;
        throw configError(where, '%include', `%include "${target}": file not found (tried ${tried})`);
      }
      let includedText: string;
      try {
        includedText = readFileSync(included.fullPath, 'utf8');
      } catch (err) {
        throw configError(where, '%include', `%include "${target}": cannot read ${included.fullPath}: ${(err as Error).message}`);
      }
      parseIniText(includedText, included, depth + 1, cwd, events);
      continue;
    }

    const { key, rest } = readKey(line, where);
    events.push({ kind: 'entry', key, value: rest.trim(), file, line: lineNo });
  }
}

/**
 * A relative path is looked up in the working directory first, as PgBouncer does, then next to the
 * including file, which is what people mean when they keep the two files together. The path is
 * returned in the form it was found, so error messages name the file the way the user wrote it.
 */
function resolveInclude(target: string, including: IniFile, cwd: string): IniFile | null {
  if (path.isAbsolute(target)) return existsSync(target) ? { display: target, fullPath: target } : null;
  const inCwd = path.resolve(cwd, target);
  if (existsSync(inCwd)) return { display: target, fullPath: inCwd };
  const beside = path.resolve(path.dirname(including.fullPath), target);
  if (!existsSync(beside)) return null;
  const display = path.isAbsolute(including.display) ? beside : path.join(path.dirname(including.display), target);
  return { display, fullPath: beside };
}

const UNQUOTED_KEY = /^[A-Za-z0-9_.*-]+/;

/** the key (unquoted, or in '' or "" quotes with the quote doubled to escape it) and the text after '=' */
function readKey(line: string, where: { file: string; line: number }): { key: string; rest: string } {
  let key: string;
  let after: string;
  const quote = line[0];
  if (quote === "'" || quote === '"') {
    let i = 1;
    key = '';
    for (;;) {
      if (i >= line.length) throw configError(where, line, `syntax error: unterminated quoted key in "${line}"`);
      if (line[i] === quote) {
        if (line[i + 1] === quote) {
          key += quote;
          i += 2;
          continue;
        }
        break;
      }
      key += line[i];
      i++;
    }
    after = line.slice(i + 1);
  } else {
    key = UNQUOTED_KEY.exec(line)?.[0] ?? '';
    after = line.slice(key.length);
  }
  const equals = /^[ \t]*=/.exec(after);
  if (!equals || key === '') {
    const eq = line.indexOf('=');
    if (eq > 0 && quote !== "'" && quote !== '"') {
      const written = line.slice(0, eq).trim();
      throw configError(
        where,
        written,
        `syntax error: key "${written}" has characters other than letters, digits and _.*- so it must be quoted: '${written}' = ...`,
      );
    }
    throw configError(where, key || line, `syntax error: expected "key = value", a [section] or %include, got "${line}"`);
  }
  return { key, rest: after.slice(equals[0].length) };
}
