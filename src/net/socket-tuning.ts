// TCP options for every client and server socket, set here and nowhere else: PgBouncer's
// tcp_keepalive and tcp_keepidle as far as Node can set them, and WriteStall, the part of
// tcp_user_timeout the pooler can enforce itself because Node cannot set TCP_USER_TIMEOUT.
import type { Socket } from 'node:net';

/** the settings that tune sockets; a Settings object is one */
export interface TcpTuning {
  readonly tcp_keepalive: boolean;
  /** seconds of quiet before the first keepalive probe; 0 leaves the OS default */
  readonly tcp_keepidle: number;
  /** accepted for PgBouncer's sake; Node cannot set it (see tuneSocket) */
  readonly tcp_keepintvl: number;
  /** accepted for PgBouncer's sake; Node cannot set it (see tuneSocket) */
  readonly tcp_keepcnt: number;
  /** milliseconds; enforced by WriteStall from the janitor tick, not by the kernel */
  readonly tcp_user_timeout: number;
}

/**
 * Node 20 (libuv 1.46) offers setKeepAlive(enable, initialDelay) and nothing else: it sets
 * SO_KEEPALIVE and TCP_KEEPIDLE, and with a delay always TCP_KEEPINTVL = 1 s and TCP_KEEPCNT = 10
 * too. A zero delay makes libuv's TCP_KEEPIDLE call fail after SO_KEEPALIVE is on, which leaves
 * all three at the OS defaults: PgBouncer's meaning of tcp_keepalive with nothing else set.
 * On a Unix socket Node ignores both calls.
 */
export function tuneSocket(socket: Socket, tuning: TcpTuning): void {
  socket.setNoDelay(true);
  if (!tuning.tcp_keepalive) socket.setKeepAlive(false);
  else socket.setKeepAlive(true, tuning.tcp_keepidle * 1000);
}

/**
 * What the pooler can see of TCP_USER_TIMEOUT ("transmitted data may remain unacknowledged"):
 * bytes queued for a peer that the kernel will not take, because the peer keeps its window shut or
 * stopped acknowledging until the send buffer filled. Bytes already inside the kernel's send buffer
 * and unacknowledged are invisible from Node, so a request lost in a network partition is not seen
 * here (query_timeout and transaction_timeout bound that). Sampled from the janitor tick.
 */
export class WriteStall {
  private since = 0;
  private taken = 0;

  /** how long `socket` has taken none of the bytes queued for it, as of `now`; 0 when nothing is queued */
  stalledFor(socket: Socket, now: number): number {
    const queued = socket.writableLength;
    if (queued === 0) {
      this.since = 0;
      return 0;
    }
    // bytes of writes the kernel has finished taking: it grows with every completed write
    const taken = socket.bytesWritten - queued;
    if (this.since === 0 || taken !== this.taken) {
      this.since = now;
      this.taken = taken;
      return 0;
    }
    return now - this.since;
  }
}
