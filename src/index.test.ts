// The public API's handle without a PostgreSQL: createPooler listens, reports its pools and
// counters, reloads (refusing a configuration whose files cannot be read), and closes.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPooler, loadConfig } from './index.js';
import { freePort } from './net/free-port.js';
import { removeScratchDirs, scratchDir } from './testing/scratch-dir.js';

afterAll(removeScratchDirs);

function configWith(port: number, extra = '') {
  const dir = scratchDir('pooler-index-');
  const ini = `[databases]\napp = host=127.0.0.1 port=1 dbname=x\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = trust\n${extra}`;
  writeFileSync(path.join(dir, 'pooler.ini'), ini);
  return loadConfig({ file: 'pooler.ini', env: {}, cwd: dir });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

describe('createPooler', () => {
  it('listens, reports stats, reloads and closes', async () => {
    const port = await freePort();
    const pooler = createPooler(configWith(port), { source: () => configWith(port, 'default_pool_size = 4\n') });
    expect((await pooler.listen()).port).toBe(port);
    expect(await connects(port)).toBe(true);
    expect(pooler.stats()).toEqual({ pools: [], databases: [] });
    pooler.reload();
    const unreadable = configWith(port, 'auth_file = /nonexistent/userlist.txt\n');
    expect(() => pooler.reload(unreadable)).toThrow(/nonexistent/);
    await pooler.close();
    expect(await connects(port)).toBe(false);
  });
});
