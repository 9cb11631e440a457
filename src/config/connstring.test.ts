// libpq-style connection strings in [databases]: quoting, escapes and syntax errors.
import { describe, expect, it } from 'vitest';
import { ConnStringSyntaxError, parseConnString, quoteConnStringValue } from './connstring.js';

describe('parseConnString', () => {
  it('splits whitespace-separated key=value pairs', () => {
    expect(parseConnString('host=localhost  port=5433\tdbname=app')).toEqual([
      { key: 'host', value: 'localhost' },
      { key: 'port', value: '5433' },
      { key: 'dbname', value: 'app' },
    ]);
  });

  it('is empty for an empty string', () => {
    expect(parseConnString('')).toEqual([]);
    expect(parseConnString('   ')).toEqual([]);
  });

  it("reads 'quoted' values with '' as a quote", () => {
    expect(parseConnString("connect_query='SELECT ''a b'', 1' user=x")).toEqual([
      { key: 'connect_query', value: "SELECT 'a b', 1" },
      { key: 'user', value: 'x' },
    ]);
  });

  it('allows spaces around "="', () => {
    expect(parseConnString('host = db1 port= 6000')).toEqual([
      { key: 'host', value: 'db1' },
      { key: 'port', value: '6000' },
    ]);
  });

  it('keeps "=" inside a value', () => {
    expect(parseConnString('password=a=b')).toEqual([{ key: 'password', value: 'a=b' }]);
  });

  it('rejects empty values, missing "=", and unterminated quotes', () => {
    expect(() => parseConnString("host=''")).toThrow('empty value for "host"');
    expect(() => parseConnString('host=')).toThrow('empty value for "host"');
    expect(() => parseConnString('localhost')).toThrow(ConnStringSyntaxError);
    expect(() => parseConnString('=x')).toThrow('no key');
    expect(() => parseConnString("connect_query='SELECT 1")).toThrow('unterminated');
    expect(() => parseConnString("a='x'b=1")).toThrow('expected a space');
  });
});

describe('quoteConnStringValue', () => {
  it('quotes only when needed and round-trips', () => {
    expect(quoteConnStringValue('plain')).toBe('plain');
    const tricky = "it's a value";
    expect(parseConnString(`k=${quoteConnStringValue(tricky)}`)).toEqual([{ key: 'k', value: tricky }]);
  });
});
