// vitest globalSetup: one PostgreSQL server for the whole run — a testcontainers container when a
// Docker engine answers, else a local initdb/pg_ctl cluster — with the roles from roles.ts.
import type { TestProject } from 'vitest/node';
import { startContainerPostgres } from './container-postgres.js';
import type { PostgresInfo } from './context.js';
import { startLocalPostgres } from '../../src/demo/local-postgres.js';
import { DATABASE_SQL, HBA_LINES, SETUP_SQL, TEST_DATABASE } from './roles.js';
import { runTool } from './tools.js';
import { freePort } from '../../src/net/free-port.js';

async function psql(info: PostgresInfo, database: string, statements: string[]): Promise<void> {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', info.host, '-p', String(info.port), '-U', 'postgres', '-d', database];
  for (const sql of statements) args.push('-c', sql);
  const result = await runTool('psql', args);
  if (result.code !== 0) throw new Error(`test database setup failed: ${result.stderr}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server =
    (await startContainerPostgres(HBA_LINES)) ??
    (await startLocalPostgres(await freePort(), HBA_LINES));
  const info: PostgresInfo = { host: server.host, port: server.port, socketDir: server.socketDir };
  try {
    await psql(info, 'postgres', SETUP_SQL);
    await psql(info, TEST_DATABASE, DATABASE_SQL);
  } catch (error) {
    await server.stop();
    throw error;
  }
  project.provide('postgres', info);
  return () => server.stop();
}
