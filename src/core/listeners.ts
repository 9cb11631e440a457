// Where clients connect: the TCP listener on listen_addr:listen_port and the Unix socket
// <unix_socket_dir>/.s.PGSQL.<port>, opened so a pooler that must not start never answers at all.
import net from 'node:net';
import type { Settings } from '../config/types.js';
import type { Logger } from '../log.js';
import { listenUnix, SocketInUseError, unixSocketPath } from '../net/unix-listener.js';

export class Listeners {
  private tcp: net.Server | null = null;
  /** null when unix_socket_dir is empty, or not writable */
  private unix: net.Server | null = null;

  constructor(
    private readonly log: Logger,
    private readonly onConnection: (socket: net.Socket) => void,
  ) {}

  /** resolves with the address actually bound (port 0 picks one) */
  async listen(settings: Settings): Promise<{ host: string; port: number }> {
    // the Unix socket first when its name is known, so a pooler that must not start (the socket
    // is someone else's) never answers on TCP, not even for a moment
    const port = settings.listen_port;
    if (port !== 0) await this.listenOnUnixSocket(settings.unix_socket_dir, port);
    const listener = net.createServer({ noDelay: true, pauseOnConnect: false }, this.onConnection);
    this.tcp = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        const host = settings.listen_addr === '*' ? undefined : settings.listen_addr;
        listener.listen({ host, port, backlog: 511 }, () => {
          listener.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.unix?.close();
      throw error;
    }
    const address = listener.address() as net.AddressInfo;
    this.log.info({ host: address.address, port: address.port }, `listening on ${address.address}:${address.port}`);
    if (port === 0) {
      try {
        await this.listenOnUnixSocket(settings.unix_socket_dir, address.port);
      } catch (error) {
        listener.close();
        throw error;
      }
    }
    return { host: address.address, port: address.port };
  }

  /** stop accepting; connected clients stay */
  close(): void {
    this.tcp?.close();
    this.unix?.close();
  }

  /** throws only when another server answers there */
  private async listenOnUnixSocket(socketDir: string, port: number): Promise<void> {
    if (socketDir === '') return;
    const path = unixSocketPath(socketDir, port);
    try {
      this.unix = await listenUnix(path, this.onConnection);
      this.log.info({ path }, `listening on unix:${path}`);
    } catch (error) {
      if (error instanceof SocketInUseError) throw error;
      // a read-only /tmp (a container's root file system) should not keep TCP clients out
      this.log.warn(`not listening on unix:${path}: ${(error as Error).message} (set unix_socket_dir to a writable directory, or empty to turn this off)`);
    }
  }
}
