// The Unix-domain socket PgBouncer also listens on: <unix_socket_dir>/.s.PGSQL.<port>, so
// `psql -h /tmp -p 6432` works. A file left by a pooler that died is removed first; one that
// something still answers on is an error. Node removes the file again when the server closes.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { unixSocketPath } from './connect.js';

/** someone answers on the socket path: starting anyway would steal its clients */
export class SocketInUseError extends Error {}

export { unixSocketPath };

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function listenUnix(path: string, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  if (existsSync(path)) {
    if (await answers(path)) throw new SocketInUseError(`${path} is in use: another pooler or PgBouncer listens on this port`);
    unlinkSync(path);
  }
  const server = net.createServer({ pauseOnConnect: false }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // PgBouncer's unix_socket_mode default: any local user may connect; authentication decides
  chmodSync(path, 0o777);
  return server;
}
