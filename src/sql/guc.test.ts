// Names, literals and identifier lists as PostgreSQL reads them, and the SET that replays a setting.
import { describe, expect, it } from 'vitest';
import { gucName, quoteLiteral, replaySet, setValueFromString, splitIdentifierList } from './guc.js';

describe('gucName', () => {
  it('folds ASCII case only and maps the old names', () => {
    expect(gucName('Work_Mem')).toBe('work_mem');
    expect(gucName('SORT_MEM')).toBe('work_mem');
    expect(gucName('vacuum_mem')).toBe('maintenance_work_mem');
    expect(gucName('MyApp.Ä')).toBe('myapp.Ä');
  });
});

describe('quoteLiteral', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it''s'"],
    ['back\\slash', "E'back\\\\slash'"],
    ["both\\'", "E'both\\\\'''"],
    ['', "''"],
  ])('%s', (value, literal) => {
    expect(quoteLiteral(value)).toBe(literal);
  });
});

describe('splitIdentifierList (SplitIdentifierString)', () => {
  it.each([
    ['', []],
    ['  ', []],
    ['public', ['public']],
    ['Foo, "Bar" ,"$user"', ['foo', 'Bar', '$user']],
    ['"a""b", c', ['a"b', 'c']],
    ['"a,b"', ['a,b']],
    ['""', ['']],
    ['a\t,\nb', ['a', 'b']],
  ] as const)('%j', (text, items) => {
    expect(splitIdentifierList(text)).toEqual(items);
  });

  it.each(['a,', ',a', 'a b', '"unterminated', 'a,,b', '"x"y'])('rejects %j', (text) => {
    expect(splitIdentifierList(text)).toBeNull();
  });
});

describe('setValueFromString', () => {
  it('quotes an ordinary setting whole', () => {
    expect(setValueFromString('datestyle', 'ISO, DMY')).toBe("'ISO, DMY'");
  });

  it('gives each element of an identifier list its own literal, as SET would otherwise quote the whole as one name', () => {
    expect(setValueFromString('search_path', 'Foo, "Bar"')).toBe("'foo', 'Bar'");
    expect(setValueFromString('search_path', '')).toBe("''");
    expect(setValueFromString('search_path', 'a b')).toBeNull();
  });
});

describe('replaySet', () => {
  it('quotes each part of the name', () => {
    expect(replaySet('work_mem', "'64MB'")).toBe(`SET "work_mem" = '64MB'`);
    expect(replaySet('app.select', '1')).toBe(`SET "app"."select" = 1`);
    expect(replaySet('timezone', null)).toBe(`RESET "timezone"`);
    expect(replaySet('a"b', '1')).toBe(`SET "a""b" = 1`);
  });
});
