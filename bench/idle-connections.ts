// Memory per idle client: open N logged-in client connections to a pooler, each sitting idle
// after ReadyForQuery, and divide the growth of the pooler's RSS by N.
import net from 'node:net';
import { rssBytes } from './proc-stats.js';
import { DATABASE, type Target } from './targets.js';
import { startupMessage } from '../src/protocol/frontend-messages.js';

export interface IdleResult {
  target: Target['name'];
  connections: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  bytesPerConnection: number;
}

/** one client that logs in and stays; resolves once ReadyForQuery arrived */
function openIdle(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(startupMessage({ user: 'postgres', database: DATABASE })));
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      // walk whole messages until ReadyForQuery ('Z') or an error ('E')
      let offset = 0;
      while (seen.length - offset >= 5) {
        const code = seen[offset]!;
        const length = seen.readInt32BE(offset + 1);
        if (seen.length - offset < 1 + length) break;
        if (code === 0x45) return reject(new Error(`login refused: ${seen.toString('utf8', offset + 5, offset + 1 + length)}`));
        if (code === 0x5a) {
          socket.off('data', onData);
          // a later reset of an idle client must not throw; the measurement reads RSS, not sockets
          socket.removeAllListeners('error');
          socket.on('error', () => undefined);
          return resolve(socket);
        }
        offset += 1 + length;
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** a few tries: a login refused or reset under a connection storm says nothing about idle memory */
async function openIdleRetrying(port: number): Promise<net.Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openIdle(port);
    } catch (error) {
      if (attempt === 3) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

export async function measureIdleConnections(target: Target, count: number): Promise<IdleResult> {
  if (target.pid === null) throw new Error('idle-connection memory is measured for poolers only');
  // the first client makes the pool log in to PostgreSQL; that cost is not per client
  const sockets = [await openIdle(target.port)];
  await new Promise((r) => setTimeout(r, 500));
  const rssBeforeBytes = rssBytes(target.pid);
  const batch = 200;
  for (let opened = 1; opened < count; opened += batch) {
    const size = Math.min(batch, count - opened);
    sockets.push(...(await Promise.all(Array.from({ length: size }, () => openIdleRetrying(target.port)))));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfterBytes = rssBytes(target.pid);
  for (const socket of sockets) socket.destroy();
  await new Promise((r) => setTimeout(r, 500));
  return {
    target: target.name,
    connections: count,
    rssBeforeBytes,
    rssAfterBytes,
    bytesPerConnection: Math.round((rssAfterBytes - rssBeforeBytes) / (count - 1)),
  };
}
