// The Unix-domain socket next to the TCP port, as PgBouncer has: psql -h <dir> reaches it, SHOW
// CLIENTS calls it unix, hba `local` rules apply to it and `host` rules do not, a stale socket
// file is replaced, a live one is refused, and the file goes away when the pooler stops.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net/free-port.js';
import { getPostgres } from './harness/context.js';
import { runTool } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let dir: string;
let pooler: PoolerProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pooler-unix-'));
  const hba = join(dir, 'hba.conf');
  writeFileSync(hba, 'local all all trust\nhost all all all reject\n');
  pooler = await startPooler({
    settings: { unix_socket_dir: dir, auth_type: 'hba', auth_hba_file: hba, admin_users: 'postgres' },
    databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
  });
});

afterAll(async () => {
  await pooler?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const psql = (host: string, port: number, database: string, sql: string) =>
  runTool('psql', ['-X', '-A', '-t', '-F', ',', '-h', host, '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql]);

describe('the Unix socket', () => {
  it('serves psql -h <unix_socket_dir>, where a local hba rule lets it in and the TCP port is refused', async () => {
    const viaSocket = await psql(dir, pooler.port, 'app', 'SELECT 1');
    expect(viaSocket.stdout.trim(), viaSocket.stderr).toBe('1');
    const viaTcp = await psql('127.0.0.1', pooler.port, 'app', 'SELECT 1');
    expect(viaTcp.stderr).toContain('pg_hba.conf rejects connection for host "127.0.0.1"');
  });

  it('shows a socket client as unix in SHOW CLIENTS', async () => {
    const result = await psql(dir, pooler.port, 'pgbouncer', 'SHOW CLIENTS');
    expect(result.stdout, result.stderr).toMatch(/^C,postgres,pgbouncer,(\w+,)?active,unix,/m);
  });

  it('refuses to start on a socket another pooler answers on, replaces a stale file, and removes its own on stop', async () => {
    const path = join(dir, `.s.PGSQL.${pooler.port}`);
    expect(existsSync(path)).toBe(true);
    const otherDir = mkdtempSync(join(tmpdir(), 'pooler-unix-other-'));
    const port = await freePort();
    const otherPath = join(otherDir, `.s.PGSQL.${port}`);
    const start = () =>
      startPooler({
        port,
        settings: { unix_socket_dir: otherDir, auth_type: 'trust' },
        databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
      }).catch((error: Error) => error);
    // something answers on the socket path: the pooler will not take it over
    const squatter = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(otherPath, resolve));
    const refused = await start();
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain(`${otherPath} is in use`);
    // a file left by a crash (closing a server removes its file, so put a plain one there)
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    writeFileSync(otherPath, '');
    const second = await start();
    try {
      expect(second).not.toBeInstanceOf(Error);
      const ok = await psql(otherDir, port, 'app', 'SELECT 2');
      expect(ok.stdout.trim(), ok.stderr).toBe('2');
    } finally {
      if (!(second instanceof Error)) await second.stop();
    }
    expect(existsSync(otherPath)).toBe(false);
    rmSync(otherDir, { recursive: true, force: true });
  });
});
