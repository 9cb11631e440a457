// The console grammar: what PgBouncer's admin.c accepts (case, quoting, SET forms, SELECT as SHOW) and what it refuses.
import { describe, expect, it } from 'vitest';
import { parseConsoleQuery } from './grammar.js';

describe('parseConsoleQuery', () => {
  it.each([
    ['SHOW POOLS', { kind: 'show', what: 'pools' }],
    ['show pools;', { kind: 'show', what: 'pools' }],
    ['  select version ', { kind: 'show', what: 'version' }],
    ['PAUSE', { kind: 'command', verb: 'pause', argument: null }],
    ['pause app;', { kind: 'command', verb: 'pause', argument: 'app' }],
    ['KILL "My-Db"', { kind: 'command', verb: 'kill', argument: 'My-Db' }],
    ['KILL_CLIENT 42', { kind: 'command', verb: 'kill_client', argument: '42' }],
    ["SET server_check_query = 'select 2'", { kind: 'set', key: 'server_check_query', value: 'select 2' }],
    ['set default_pool_size to 7;', { kind: 'set', key: 'default_pool_size', value: '7' }],
    ["SET application_name_add_host = 'it''s'", { kind: 'set', key: 'application_name_add_host', value: "it's" }],
  ])('%s', (query, parsed) => {
    expect(parseConsoleQuery(query)).toEqual(parsed);
  });

  it.each(['', ';', 'SHOW', 'SHOW POOLS EXTRA', 'DROP TABLE x; SHOW POOLS', 'SET x'])('refuses %j', (query) => {
    expect(parseConsoleQuery(query)).toBeNull();
  });
});
