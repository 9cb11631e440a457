// /readyz's decision without a PostgreSQL: a database nobody has used yet is probed with a real TCP
// (or Unix socket) connect, and shutting down makes the pooler unready whatever the databases say.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { silentLogger } from '../log.js';
import { freePort } from '../net/free-port.js';
import { Pooler } from '../pooler.js';
import { removeScratchDirs, scratchDir } from '../testing/scratch-dir.js';
import { ReadinessProbe } from './readiness.js';

afterAll(removeScratchDirs);

/** a Pooler that never listens, with these [databases] lines */
function poolerWith(databases: string[], socketDir = '/tmp'): Pooler {
  const dir = scratchDir('pooler-readiness-');
  const ini = `[databases]\n${databases.join('\n')}\n[pgbouncer]\nauth_type = trust\nunix_socket_dir = ${socketDir}\n`;
  writeFileSync(path.join(dir, 'pooler.ini'), ini);
  return new Pooler(loadConfig({ file: 'pooler.ini', env: {}, cwd: dir }), silentLogger);
}

/** something that accepts TCP connections, standing in for a server's port (the probe only connects) */
async function listening(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('ReadinessProbe', () => {
  it('is ready when every unused database accepts a connection', async () => {
    const target = await listening();
    try {
      const pooler = poolerWith([`up = host=127.0.0.1 port=${target.port} dbname=x`]);
      expect(await new ReadinessProbe(pooler.console).check()).toEqual({ ready: true, reasons: [] });
    } finally {
      await target.close();
    }
  });

  it('names the database whose port is closed', async () => {
    const target = await listening();
    const closed = await freePort();
    try {
      const pooler = poolerWith([`up = host=127.0.0.1 port=${target.port} dbname=x`, `down = host=127.0.0.1 port=${closed} dbname=x`]);
      const state = await new ReadinessProbe(pooler.console).check();
      expect(state.ready).toBe(false);
      expect(state.reasons).toEqual([`database down: cannot connect to 127.0.0.1:${closed}: ECONNREFUSED`]);
    } finally {
      await target.close();
    }
  });

  it('probes the Unix socket in unix_socket_dir when the host is empty', async () => {
    const socketDir = scratchDir('pooler-socket-');
    const pooler = poolerWith(['local = port=5999 dbname=x'], socketDir);
    const state = await new ReadinessProbe(pooler.console).check();
    expect(state.ready).toBe(false);
    expect(state.reasons).toEqual([`database local: cannot connect to ${socketDir}:5999: ENOENT`]);

    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(path.join(socketDir, '.s.PGSQL.5999'), resolve));
    try {
      expect(await new ReadinessProbe(pooler.console).check()).toEqual({ ready: true, reasons: [] });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is not ready once shutdown has begun', async () => {
    const target = await listening();
    try {
      const pooler = poolerWith([`up = host=127.0.0.1 port=${target.port} dbname=x`]);
      await pooler.shutdown('immediate');
      expect(await new ReadinessProbe(pooler.console).check()).toEqual({ ready: false, reasons: ['shutting down (immediate)'] });
    } finally {
      await target.close();
    }
  });
});
