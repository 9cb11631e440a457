// PgBouncer's ini syntax: sections, comments, %include (and its depth limit), line numbers.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configErrorOf } from '../testing/config-files.js';
import { removeScratchDirs, scratchDir } from '../testing/scratch-dir.js';
import { MAX_INCLUDE_DEPTH, readIniFile } from './ini-reader.js';

afterAll(removeScratchDirs);

function tempDir(): string {
  return scratchDir('pooler-ini-');
}

function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe('readIniFile', () => {
  it('reads sections, entries and skips comments, with file and line', () => {
    const dir = tempDir();
    write(
      dir,
      'a.ini',
      [
        '; a comment',
        '  # another comment',
        '',
        '[pgbouncer]   ; trailing comment after a header is fine',
        'pool_mode = transaction ; this is part of the value',
        "  listen_addr=*  ",
        "'odd key' = x",
        '"double ""quoted"" key" = y',
        "'it''s' = z",
        'server_reset_query = SELECT set_config(\'a\', \'b=c\', false)',
        'empty =',
      ].join('\r\n'),
    );
    const events = readIniFile('a.ini', { cwd: dir });
    expect(events).toEqual([
      { kind: 'section', name: 'pgbouncer', file: 'a.ini', line: 4 },
      { kind: 'entry', key: 'pool_mode', value: 'transaction ; this is part of the value', file: 'a.ini', line: 5 },
      { kind: 'entry', key: 'listen_addr', value: '*', file: 'a.ini', line: 6 },
      { kind: 'entry', key: 'odd key', value: 'x', file: 'a.ini', line: 7 },
      { kind: 'entry', key: 'double "quoted" key', value: 'y', file: 'a.ini', line: 8 },
      { kind: 'entry', key: "it's", value: 'z', file: 'a.ini', line: 9 },
      { kind: 'entry', key: 'server_reset_query', value: "SELECT set_config('a', 'b=c', false)", file: 'a.ini', line: 10 },
      { kind: 'entry', key: 'empty', value: '', file: 'a.ini', line: 11 },
    ]);
  });

  it('reads keys with PgBouncer key characters unquoted, including *', () => {
    const dir = tempDir();
    write(dir, 'a.ini', '[databases]\n* = host=x\nmy-db.v2 = host=y\n');
    const keys = readIniFile('a.ini', { cwd: dir }).flatMap((e) => (e.kind === 'entry' ? [e.key] : []));
    expect(keys).toEqual(['*', 'my-db.v2']);
  });

  it('expands %include in place, relative to the working directory', () => {
    const dir = tempDir();
    write(dir, 'main.ini', '[pgbouncer]\npool_mode = session\n%include conf.d/extra.ini\nlisten_port = 7000\n');
    write(dir, 'conf.d/extra.ini', 'max_client_conn = 5\n[databases]\napp = host=x\n');
    const events = readIniFile('main.ini', { cwd: dir });
    expect(events.map((e) => [e.kind === 'entry' ? e.key : `[${e.name}]`, e.file, e.line])).toEqual([
      ['[pgbouncer]', 'main.ini', 1],
      ['pool_mode', 'main.ini', 2],
      ['max_client_conn', 'conf.d/extra.ini', 1],
      ['[databases]', 'conf.d/extra.ini', 2],
      ['app', 'conf.d/extra.ini', 3],
      // the included file switched the section, and that carries on after it, as in PgBouncer
      ['listen_port', 'main.ini', 4],
    ]);
  });

  it('falls back to the including file\'s directory for relative %include', () => {
    const dir = tempDir();
    write(dir, 'etc/main.ini', '[pgbouncer]\n%include more.ini\n');
    write(dir, 'etc/more.ini', 'pool_mode = statement\n');
    const events = readIniFile('etc/main.ini', { cwd: dir });
    expect(events[1]).toEqual({ kind: 'entry', key: 'pool_mode', value: 'statement', file: path.join('etc', 'more.ini'), line: 1 });
  });

  it('accepts an absolute %include path', () => {
    const dir = tempDir();
    const more = write(dir, 'more.ini', 'pool_mode = statement\n');
    write(dir, 'main.ini', `[pgbouncer]\n%include ${more}\n`);
    expect(readIniFile('main.ini', { cwd: dir })[1]).toMatchObject({ key: 'pool_mode', file: more, line: 1 });
  });

  it('reports a missing %include at the including line', () => {
    const dir = tempDir();
    write(dir, 'main.ini', '[pgbouncer]\n\n%include nope.ini\n');
    const err = configErrorOf(() => readIniFile('main.ini', { cwd: dir }));
    expect(err.message).toMatch(/^main\.ini:3: %include "nope\.ini": file not found \(tried /);
    expect([err.file, err.line, err.key]).toEqual(['main.ini', 3, '%include']);
  });

  it(`stops %include nesting deeper than ${MAX_INCLUDE_DEPTH}`, () => {
    const dir = tempDir();
    write(dir, 'loop.ini', '[pgbouncer]\n%include loop.ini\n');
    const err = configErrorOf(() => readIniFile('loop.ini', { cwd: dir }));
    expect(err.message).toContain('nested more than 10 deep');
    expect([err.file, err.line]).toEqual(['loop.ini', 2]);
  });

  it('names the included file and its line in syntax errors', () => {
    const dir = tempDir();
    write(dir, 'main.ini', '[pgbouncer]\n%include inc.ini\n');
    write(dir, 'inc.ini', '; ok\nthis line has no equals sign\n');
    const err = configErrorOf(() => readIniFile('main.ini', { cwd: dir }));
    expect(err.message).toBe('inc.ini:2: syntax error: expected "key = value", a [section] or %include, got "this line has no equals sign"');
    expect([err.file, err.line, err.key]).toEqual(['inc.ini', 2, 'this']);
  });

  it('asks for quotes around keys with other characters', () => {
    const dir = tempDir();
    write(dir, 'main.ini', '[databases]\nmy db = host=x\n');
    const err = configErrorOf(() => readIniFile('main.ini', { cwd: dir }));
    expect(err.message).toContain("main.ini:2: syntax error: key \"my db\" has characters other than letters, digits and _.*- so it must be quoted: 'my db' = ...");
    expect(err.key).toBe('my db');
  });

  it('rejects broken section headers, unknown directives and unterminated quoted keys', () => {
    const dir = tempDir();
    write(dir, 'a.ini', '[pgbouncer\n');
    write(dir, 'b.ini', '%import x\n');
    write(dir, 'c.ini', "[pgbouncer]\n'abc = 1\n");
    expect(configErrorOf(() => readIniFile('a.ini', { cwd: dir })).message).toMatch(/^a\.ini:1: syntax error: a section header/);
    expect(configErrorOf(() => readIniFile('b.ini', { cwd: dir })).message).toMatch(/^b\.ini:1: syntax error: the only directive is "%include/);
    expect(configErrorOf(() => readIniFile('c.ini', { cwd: dir })).message).toMatch(/^c\.ini:2: syntax error: unterminated quoted key/);
  });

  it('reports an unreadable main file without a line', () => {
    const dir = tempDir();
    const err = configErrorOf(() => readIniFile('missing.ini', { cwd: dir }));
    expect(err.message).toMatch(/^missing\.ini: cannot read config file: ENOENT/);
    expect([err.file, err.line, err.key]).toEqual(['missing.ini', null, null]);
  });
});
