// A TCP proxy between the pooler and PostgreSQL that counts the connections the pooler opens and,
// when told to, holds each new one for a while before PostgreSQL sees it (a slow network), or
// answers CancelRequests itself instead of passing them on (to count a flood without forking
// a PostgreSQL process per cancel).
import net from 'node:net';

const CANCEL_REQUEST_PREFIX = Buffer.from([0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e]);

export class TcpProxy {
  /** connections the pooler opened through the proxy, ever */
  opened = 0;
  /** CancelRequests seen on them (swallowed or passed on) */
  cancels = 0;
  /** how long a new connection waits before its bytes go on to PostgreSQL */
  delayMs = 0;
  /** close a CancelRequest's connection (after delayMs) instead of passing it on */
  swallowCancels = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** `host` is an address, or a directory holding PostgreSQL's Unix socket */
  static async start(host: string, port: number): Promise<TcpProxy> {
    // half-open allowed: a CancelRequest's sender ends its side at once, and the bytes must still go on
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (socket) => proxy.accept(socket, host, port));
    return proxy;
  }

  private accept(socket: net.Socket, host: string, port: number): void {
    this.opened++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const early: Buffer[] = [];
    let ended = false;
    const keep = (chunk: Buffer) => early.push(chunk);
    const onEnd = () => (ended = true);
    socket.on('data', keep);
    socket.once('end', onEnd);
    setTimeout(() => {
      socket.off('data', keep);
      socket.off('end', onEnd);
      const first = Buffer.concat(early);
      const cancel = first.subarray(0, 8).equals(CANCEL_REQUEST_PREFIX);
      if (cancel) this.cancels++;
      if (cancel && this.swallowCancels) return void socket.end();
      if (socket.destroyed) return;
      const upstream = host.startsWith('/') ? net.connect({ path: `${host}/.s.PGSQL.${port}` }) : net.connect({ host, port });
      this.sockets.add(upstream);
      upstream.on('close', () => {
        this.sockets.delete(upstream);
        socket.destroy();
      });
      upstream.on('error', () => undefined);
      socket.on('close', () => upstream.destroy());
      if (first.length > 0) upstream.write(first);
      if (ended) upstream.end();
      else socket.pipe(upstream);
      upstream.pipe(socket);
    }, this.delayMs);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
