// The `pooler` command as a user runs it: a config error names file, line and key and exits 2;
// check-config and size print what they promise; start with only DATABASE_URL works; SIGTERM
// drains: a connected client finishes its transaction and is then closed before the exit.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { freePort } from '../src/net/free-port.js';
import { CLI, cli } from './support/cli.js';
import { startPooler } from './support/pooler-process.js';

const postgres = getPostgres();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pooler-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('pooler check-config', () => {
  it('names the file, line and key of a bad value and exits with status 2', async () => {
    const file = join(dir, 'bad.ini');
    writeFileSync(file, '[pgbouncer]\nlisten_port = 6000\npool_mode = sesion\n');
    const result = await cli(['check-config', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:3`);
    expect(result.stderr).toContain('pool_mode');
  });

  it('prints effective settings with where each came from', async () => {
    const file = join(dir, 'good.ini');
    writeFileSync(file, '[pgbouncer]\npool_mode = transaction\n[databases]\napp = host=127.0.0.1 port=5432\n');
    const result = await cli(['check-config', file], { POOLER_DEFAULT_POOL_SIZE: '7' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/pool_mode\s+transaction\s+.*good\.ini:2/);
    expect(result.stdout).toMatch(/default_pool_size\s+7\s+.*POOLER_DEFAULT_POOL_SIZE/);
  });
});

describe('pooler size', () => {
  it('prints the pool size from cores × 2 + spindles with the arithmetic', async () => {
    const result = await cli(['size', '--cores', '8', '--spindles', '2']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('8 × 2 + 2 = 18');
    expect(result.stdout.trim().split('\n').at(-1)).toBe('18');
  });
});

describe('pooler start', () => {
  it('runs in front of DATABASE_URL with no config file', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: {
        ...process.env,
        DATABASE_URL: `postgres://postgres@${postgres.host}:${postgres.port}/pooler_test`,
        POOLER_LISTEN_PORT: String(port),
        // other tests run poolers side by side; the default metrics port 9127 would collide
        POOLER_METRICS_PORT: '0',
      },
      stdio: 'ignore',
    });
    try {
      let client: pg.Client | null = null;
      for (let i = 0; i < 100 && client === null; i++) {
        const attempt = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pooler_test` });
        client = await attempt.connect().then(
          () => attempt,
          async () => {
            await new Promise((r) => setTimeout(r, 100));
            return null;
          },
        );
      }
      const { rows } = await client!.query('SELECT current_database() AS db');
      expect(rows[0].db).toBe('pooler_test');
      await client!.end();
    } finally {
      child.kill('SIGQUIT');
    }
  });

  it('on SIGTERM refuses new clients, lets the open transaction commit, closes the client after it, and exits 0', async () => {
    const pooler = await startPooler({
      settings: { auth_type: 'trust', pool_mode: 'transaction' },
      databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
    });
    const client = new pg.Client({ connectionString: pooler.url('app') });
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    await client.connect();
    await client.query('BEGIN');
    pooler.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = new pg.Client({ connectionString: pooler.url('app') });
    await expect(late.connect()).rejects.toThrow();
    const { rows } = await client.query('SELECT 1 AS still');
    expect(rows[0].still).toBe(1);
    await client.query('COMMIT');
    expect(await pooler.exited).toBe(0);
    // the transaction boundary was where the drain closed it, with PostgreSQL's admin-shutdown code
    expect(errors.map((e) => (e as Error & { code?: string }).code)).toContain('57P01');
    await client.end().catch(() => undefined);
    await pooler.stop();
  });
});
