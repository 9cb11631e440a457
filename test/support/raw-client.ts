// A minimal PostgreSQL wire client for tests that need exact bytes: send what the test builds,
// read back whole messages. Used for the differential test, protocol edge cases and slow readers.
import net from 'node:net';
import tls from 'node:tls';

export interface RawMessage {
  code: string;
  body: Buffer;
}

export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
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

  send(data: Buffer): void {
    this.socket.write(data);
  }

  /** the next `n` raw bytes (for the one-byte SSL answer) */
  async readBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    await this.waitFor(() => this.buffer.length >= n, timeoutMs);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** the next whole typed message, or null when the connection closed first */
  async readMessage(timeoutMs = 5000): Promise<RawMessage | null> {
    const ready = () => this.buffer.length >= 5 && this.buffer.length >= 1 + this.buffer.readUInt32BE(1);
    await this.waitFor(() => ready() || this.closed, timeoutMs);
    if (!ready()) return null;
    const length = this.buffer.readUInt32BE(1);
    const message = { code: String.fromCharCode(this.buffer[0]!), body: Buffer.from(this.buffer.subarray(5, 1 + length)) };
    this.buffer = this.buffer.subarray(1 + length);
    return message;
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
