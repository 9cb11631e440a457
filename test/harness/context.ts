// What a test file sees of the PostgreSQL server that globalSetup started: where it is, a URL
// builder for node-postgres, and psql for administration.
import { inject } from 'vitest';
import { TEST_DATABASE } from './roles.js';
import { runTool } from './tools.js';

export interface PostgresInfo {
  host: string;
  port: number;
  /** the unix-socket directory, when the server is local */
  socketDir: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresInfo;
  }
}

export interface TestPostgres extends PostgresInfo {
  url(database?: string, user?: string, password?: string): string;
  /** runs SQL through psql as `postgres` and returns its unaligned, tuples-only output; throws on error */
  psql(sql: string, options?: { database?: string; user?: string }): Promise<string>;
  /** a fresh database for one test file, dropped first if a previous run left it */
  createDatabase(name: string): Promise<void>;
  /** how many client backends PostgreSQL has for `database` right now (not autovacuum), other than psql's own */
  backendCount(database: string): Promise<number>;
}

export function getPostgres(): TestPostgres {
  const info = inject('postgres');
  const postgres: TestPostgres = {
    ...info,
    url: (database = TEST_DATABASE, user = 'postgres', password) =>
      `postgres://${encodeURIComponent(user)}${password ? ':' + encodeURIComponent(password) : ''}@${info.host}:${info.port}/${database}`,
    psql: async (sql, options = {}) => {
      const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', info.host, '-p', String(info.port)];
      args.push('-U', options.user ?? 'postgres', '-d', options.database ?? 'postgres', '-c', sql);
      const result = await runTool('psql', args);
      if (result.code !== 0) throw new Error(`psql ${JSON.stringify(sql)} failed: ${result.stderr}`);
      return result.stdout;
    },
    createDatabase: async (name) => {
      await postgres.psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await postgres.psql(`CREATE DATABASE ${name}`);
    },
    backendCount: async (database) => {
      const out = await postgres.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`);
      return Number(out.trim());
    },
  };
  return postgres;
}
