// The SET query that brings a server's session parameters to what a client expects: only the ones
// that differ, with values quoted so they arrive exactly whatever standard_conforming_strings is.
import { describe, expect, it } from 'vitest';
import { parameterSetQuery } from './parameter-sync.js';

const query = (wanted: Record<string, string>, current: Record<string, string> = {}) =>
  parameterSetQuery(new Map(Object.entries(wanted)), new Map(Object.entries(current)));

describe('parameterSetQuery', () => {
  it('sets only what differs (ignoring case, as PgBouncer does), and nothing when all match', () => {
    expect(query({ TimeZone: 'UTC', client_encoding: 'UTF8' }, { TimeZone: 'utc', client_encoding: 'LATIN1' })).toBe("SET client_encoding = E'UTF8';");
    expect(query({ TimeZone: 'UTC' }, { TimeZone: 'UTC' })).toBeNull();
  });

  it('escapes backslashes and quotes in an E-string, which no standard_conforming_strings setting reads differently', () => {
    expect(query({ application_name: "x\\' ; select 1 --" })).toBe("SET application_name = E'x\\\\'' ; select 1 --';");
  });

  it('skips a parameter name that would need quoting', () => {
    expect(query({ 'bad name; select 1': 'v' })).toBeNull();
  });
});
