// A minimal PostgreSQL wire client for tests that need exact bytes: send what the test builds (in
// one write or split at chosen offsets), read back whole messages. Used for the differential test,
// protocol edge cases, multi-MB messages and slow readers. Received chunks are kept in a list and
// joined only as far as the next message needs, so a 40 MB reply costs no quadratic copying.
import net from 'node:net';
import tls from 'node:tls';
import { wire } from '../../src/testing/wire.js';

export interface RawMessage {
  code: string;
  body: Buffer;
}

export class RawClient {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** PostgreSQL 17's direct TLS (sslnegotiation=direct): the TLS handshake at once, no SSLRequest */
  static connectDirectTls(port: number, options: tls.ConnectionOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...options });
      socket.once('secureConnect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** log in as `user` (trusted) to `database` and read up to the first ReadyForQuery */
  static async login(port: number, database: string, user = 'postgres'): Promise<RawClient> {
    const client = await RawClient.connect(port);
    client.send(wire().int32(196608).cstring('user').cstring(user).cstring('database').cstring(database).bytes('\0').untyped());
    const welcome = await client.readUntilReady();
    if (welcome.at(-1)?.code !== 'Z') throw new Error(`login to ${database} failed: ${welcome.map((m) => m.code + m.body.toString('latin1')).join(' ')}`);
    return client;
  }

  send(data: Buffer): void {
    this.socket.write(data);
  }

  /**
   * `data` as separate TCP writes cut at `cuts` (offsets into data), each waiting for the socket to
   * flush and a moment more, so the receiver reads them as separate chunks.
   */
  async sendSplit(data: Buffer, cuts: number[]): Promise<void> {
    let from = 0;
    for (const cut of [...cuts.filter((c) => c > 0 && c < data.length).sort((a, b) => a - b), data.length]) {
      if (cut <= from) continue;
      await new Promise<void>((resolve, reject) => this.socket.write(data.subarray(from, cut), (error) => (error ? reject(error) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 5));
      from = cut;
    }
  }

  /** the next `n` raw bytes (for the one-byte SSL answer) */
  async readBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.waitFor(() => this.buffered >= n, timeoutMs);
    return this.take(n);
  }

  /** the next whole typed message, or null when the connection closed first */
  async readMessage(timeoutMs = 5000): Promise<RawMessage | null> {
    const ready = () => this.buffered >= 5 && this.buffered >= 1 + this.peekLength();
    await this.waitFor(() => ready() || this.closed, timeoutMs);
    if (!ready()) return null;
    const message = this.take(1 + this.peekLength());
    return { code: String.fromCharCode(message[0]!), body: message.subarray(5) };
  }

  /** the length field of the next message (at least 5 bytes are buffered) */
  private peekLength(): number {
    if (this.chunks[0]!.length < 5) this.join(5);
    return this.chunks[0]!.readUInt32BE(1);
  }

  /** make the first chunk at least `n` bytes long by joining it with those after it */
  private join(n: number): void {
    let length = 0;
    let count = 0;
    while (length < n) length += this.chunks[count++]!.length;
    this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), length));
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.join(n);
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }

  /** messages up to and including the next ReadyForQuery (or an ErrorResponse that ends the connection) */
  async readUntilReady(timeoutMs = 10000): Promise<RawMessage[]> {
    const messages: RawMessage[] = [];
    for (;;) {
      const message = await this.readMessage(timeoutMs);
      if (message === null) return messages;
      messages.push(message);
      if (message.code === 'Z') return messages;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** the fields of an ErrorResponse / NoticeResponse body */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const end = body.indexOf(0, offset + 1);
    fields[String.fromCharCode(body[offset]!)] = body.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return fields;
}
