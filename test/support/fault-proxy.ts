// A TCP proxy on loopback to put between the pooler and PostgreSQL, with faults switchable at run
// time per connection and per direction: latency, blackhole, stall, reset (after N bytes or inside
// the next DataRow), half-close and trickle. Plaintext protocol only: use server_tls_sslmode = disable.
import net from 'node:net';

/** up: pooler → PostgreSQL; down: PostgreSQL → pooler */
export type Direction = 'up' | 'down';

export type Fault =
  | { kind: 'pass' }
  /** each chunk arrives this much later, in order */
  | { kind: 'latency'; ms: number }
  /** read and drop everything, never close: a peer whose TCP stack still acknowledges */
  | { kind: 'blackhole' }
  /** stop reading: the sender's kernel buffers fill and the window shuts */
  | { kind: 'stall' }
  /** forward this many more bytes, then reset both sides (RST) */
  | { kind: 'reset-after'; bytes: number }
  /** down only: after `after` more bytes, reset inside the next DataRow, half of it forwarded */
  | { kind: 'reset-in-datarow'; after?: number }
  /** send FIN to the receiving side and forward nothing more this way; the other way goes on */
  | { kind: 'half-close' }
  /** forward `bytes` every `everyMs` */
  | { kind: 'trickle'; bytes: number; everyMs: number };

const PASS: Fault = { kind: 'pass' };
const DATA_ROW = 0x44;
const BACKEND_KEY_DATA = 0x4b;
const RESET_GRACE_MS = 50;

export interface FaultProxy {
  readonly port: number;
  /** connections accepted so far */
  readonly accepted: number;
  /** the connections still open */
  readonly connections: readonly ProxyConnection[];
  /** set a fault on every open connection and on every later one */
  set(direction: Direction, fault: Fault): void;
  /** the open connection whose server sent BackendKeyData with this process id */
  connectionFor(pid: number): ProxyConnection | undefined;
  /** reset every open connection (a PostgreSQL restart as the pooler sees it) and say how many; new ones are accepted as before */
  resetAll(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const open = new Set<ProxyConnection>();
  const defaults: Record<Direction, Fault> = { up: PASS, down: PASS };
  let accepted = 0;
  const server = net.createServer((downstream) => {
    accepted++;
    const connection = new ProxyConnection(downstream, net.connect(target), defaults, () => open.delete(connection));
    open.add(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get connections() {
      return [...open];
    },
    set(direction, fault) {
      defaults[direction] = fault;
      for (const connection of open) connection.set(direction, fault);
    },
    connectionFor: (pid) => [...open].find((connection) => connection.pid === pid),
    resetAll() {
      const all = [...open];
      for (const connection of all) connection.reset();
      return all.length;
    },
    close: async () => {
      for (const connection of open) connection.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export class ProxyConnection {
  /** the backend's process id, once its BackendKeyData has passed */
  pid: number | null = null;
  closed = false;
  private readonly up: Pipe;
  private readonly down: Pipe;

  constructor(
    private readonly pooler: net.Socket,
    private readonly postgres: net.Socket,
    defaults: Record<Direction, Fault>,
    private readonly onClosed: () => void,
  ) {
    this.up = new Pipe(pooler, postgres, defaults.up, this, null);
    this.down = new Pipe(postgres, pooler, defaults.down, this, new Framer(this));
    for (const socket of [pooler, postgres]) {
      socket.on('error', () => this.reset());
      socket.on('close', () => this.reset());
    }
  }

  set(direction: Direction, fault: Fault): void {
    (direction === 'up' ? this.up : this.down).set(fault);
  }

  /** RST both ways */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.stop();
    this.down.stop();
    for (const socket of [this.pooler, this.postgres]) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
    this.onClosed();
  }
}

/** one direction of a connection: reads `from`, applies the fault, writes `to` */
class Pipe {
  private fault: Fault = PASS;
  /** chunks read but not yet delivered, with when each may go (latency) */
  private readonly queue: { chunk: Buffer; due: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** bytes forwarded since the fault was set (reset-after, reset-in-datarow) */
  private counted = 0;
  private stopped = false;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    fault: Fault,
    private readonly connection: ProxyConnection,
    private readonly framer: Framer | null,
  ) {
    from.on('data', (chunk: Buffer) => this.onData(chunk));
    to.on('drain', () => this.pump());
    this.set(fault);
  }

  set(fault: Fault): void {
    if (fault.kind === 'reset-in-datarow' && this.framer === null) throw new Error('reset-in-datarow is for the down direction');
    this.fault = fault;
    this.counted = 0;
    if (fault.kind === 'blackhole' || fault.kind === 'half-close') this.queue.length = 0;
    if (fault.kind === 'half-close') this.to.end();
    if (fault.kind === 'stall') this.from.pause();
    else this.from.resume();
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private onData(chunk: Buffer): void {
    const fault = this.fault;
    if (this.stopped || fault.kind === 'blackhole' || fault.kind === 'half-close') return;
    this.queue.push({ chunk, due: Date.now() + (fault.kind === 'latency' ? fault.ms : 0) });
    this.pump();
  }

  /** deliver what the fault allows now, and come back when more may go */
  private pump(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const fault = this.fault;
    if (this.stopped || fault.kind === 'stall' || fault.kind === 'blackhole' || fault.kind === 'half-close') return;
    while (this.queue.length > 0 && !this.to.writableNeedDrain) {
      const head = this.queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      let chunk = head.chunk;
      if (fault.kind === 'trickle' && chunk.length > fault.bytes) {
        head.chunk = chunk.subarray(fault.bytes);
        chunk = chunk.subarray(0, fault.bytes);
      } else {
        this.queue.shift();
      }
      const cut = this.cutAt(chunk);
      this.counted += cut;
      this.to.write(chunk.subarray(0, cut));
      if (cut < chunk.length || (fault.kind === 'reset-after' && this.counted >= fault.bytes)) {
        // An RST throws away what the kernel has not delivered yet: give the receiver a moment to
        // read what was forwarded, so the cut is where the fault says.
        this.stopped = true;
        this.from.pause();
        this.to.write(Buffer.alloc(0), () => setTimeout(() => this.connection.reset(), RESET_GRACE_MS));
        return;
      }
      if (fault.kind === 'trickle') {
        this.timer = setTimeout(() => this.pump(), fault.everyMs);
        return;
      }
    }
    // backpressure: read on only while the receiver keeps up
    if (this.queue.length > 0) this.from.pause();
    else this.from.resume();
  }

  /** how much of `chunk` to forward: all of it, or up to where a reset fault cuts the stream */
  private cutAt(chunk: Buffer): number {
    const fault = this.fault;
    if (fault.kind === 'reset-after') return Math.min(chunk.length, Math.max(fault.bytes - this.counted, 0));
    if (this.framer === null) return chunk.length;
    const from = fault.kind === 'reset-in-datarow' ? Math.max((fault.after ?? 0) - this.counted, 0) : -1;
    return this.framer.scan(chunk, from);
  }
}

/**
 * Follows the message boundaries of what PostgreSQL sends: for the backend's process id
 * (BackendKeyData) and for cutting the stream inside a DataRow.
 */
class Framer {
  /** the current message's first bytes: type, length, and the process id when it is a BackendKeyData */
  private readonly head = Buffer.alloc(9);
  private headLength = 0;
  /** body bytes of the current message still to come */
  private left = 0;

  constructor(private readonly connection: ProxyConnection) {}

  /**
   * Follow `chunk` and return how much of it to forward: all of it, or, with `cutFrom` >= 0, up to
   * the middle of the first DataRow starting at or after that offset (its type byte and more,
   * never all of it).
   */
  scan(chunk: Buffer, cutFrom: number): number {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.headLength === 0 && cutFrom >= 0 && pos >= cutFrom && chunk[pos] === DATA_ROW) {
        const length = pos + 5 <= chunk.length ? chunk.readInt32BE(pos + 1) : 8;
        return Math.min(chunk.length, pos + 1 + Math.floor(length / 2));
      }
      if (this.headLength < 5) {
        const take = Math.min(5 - this.headLength, chunk.length - pos);
        chunk.copy(this.head, this.headLength, pos, pos + take);
        this.headLength += take;
        pos += take;
        if (this.headLength === 5) {
          this.left = this.head.readInt32BE(1) - 4;
          if (this.left === 0) this.headLength = 0;
        }
        continue;
      }
      const take = Math.min(this.left, chunk.length - pos);
      if (this.headLength < 9) {
        const keep = Math.min(9 - this.headLength, take);
        chunk.copy(this.head, this.headLength, pos, pos + keep);
        this.headLength += keep;
      }
      this.left -= take;
      pos += take;
      if (this.left === 0) {
        if (this.head[0] === BACKEND_KEY_DATA && this.headLength === 9) this.connection.pid = this.head.readInt32BE(5);
        this.headLength = 0;
      }
    }
    return chunk.length;
  }
}
