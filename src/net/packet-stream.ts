// PacketStream: our sbuf. Frames one socket's byte stream by the 5-byte message headers and moves
// each message on as a slice of the chunk it arrived in: forwarded to the current target socket,
// skipped, or (for the few codes the handler must read) handed over whole first.
//
// Bodies are never waited for unless inspected: a 1 GB DataRow streams through chunk by chunk.
// Consecutive forwarded messages become one write per 'data' event. A header or inspected
// message split across chunks is completed in a fresh small buffer, never by moving bytes inside a
// chunk that may still sit in a socket's write queue.
import type { Socket } from 'node:net';
import { HEADER_LENGTH } from '../protocol/codes.js';

/** what to do with one message */
export const Disposition = { Forward: 0, Skip: 1 } as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

/** how the stream treats a message code; one Uint8Array(256) per direction and phase */
export const Treat = {
  /** forward without telling anyone (DataRow, CopyData, ...) */
  Pass: 0,
  /** call onHeader with code and length; the body is not read */
  Header: 1,
  /** collect the whole message and call onMessage */
  Whole: 2,
} as const;

export function treatTable(entries: Record<number, number>): Uint8Array {
  const table = new Uint8Array(256);
  for (const [code, treat] of Object.entries(entries)) table[Number(code)] = treat;
  return table;
}

export interface PacketHandler {
  /** a message marked Treat.Header; its body has not been read */
  onHeader(code: number, length: number): Disposition;
  /** a message marked Treat.Whole: `buffer[offset, offset + total)` is the whole message, header included */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition;
  /** the message length is impossible; the stream has stopped */
  onFramingError(message: string): void;
  /** a write to the target did not fit; the handler should pause this stream's socket */
  onTargetFull(): void;
}

export class PacketStream {
  /** where forwarded messages go; null drops them */
  private destination: Socket | null = null;
  /** the per-code treatment currently in force */
  table: Uint8Array;
  /** bytes read into this stream since the stats last took them */
  private bytes = 0;

  private stopped = false;
  /** bytes of the current message body still to come in later chunks */
  private remaining = 0;
  private remainingForward = false;
  /** the start of a message (a header, or an inspected message) that did not fit the last chunk */
  private pending: Buffer | null = null;
  // the chunk being fed and the start of its not-yet-written forward range
  private chunk: Buffer | null = null;
  private forwardStart = -1;
  /** where in the chunk the message being handled starts */
  private messageStart = 0;

  constructor(
    private readonly handler: PacketHandler,
    table: Uint8Array,
    private readonly maxMessageLength: number,
  ) {
    this.table = table;
  }

  /** the bytes read since the last call, for the per-database totals */
  takeBytes(): number {
    const bytes = this.bytes;
    this.bytes = 0;
    return bytes;
  }

  /** true when no message is half-received: a link may change now without splitting one */
  get target(): Socket | null {
    return this.destination;
  }

  /**
   * Point forwarding somewhere else. Called from a handler mid-chunk, everything forwarded before
   * the current message still goes to the old target first.
   */
  set target(socket: Socket | null) {
    if (this.chunk !== null) this.flushForward(this.messageStart);
    this.destination = socket;
  }

  get betweenMessages(): boolean {
    return this.remaining === 0 && this.pending === null;
  }

  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  feed(chunk: Buffer): void {
    if (this.stopped) return;
    this.bytes += chunk.length;
    const end = chunk.length;
    let pos = 0;
    this.chunk = chunk;
    this.forwardStart = -1;
    if (this.pending !== null) {
      pos = this.resumePending(chunk);
      if (this.stopped) return this.release();
    }
    if (this.remaining > 0 && pos < end) {
      const take = Math.min(this.remaining, end - pos);
      if (this.remainingForward) this.forwardStart = pos;
      this.remaining -= take;
      pos += take;
    }
    while (pos < end) {
      if (end - pos < HEADER_LENGTH) {
        this.flushForward(pos);
        this.pending = Buffer.from(chunk.subarray(pos, end));
        return this.release();
      }
      const code = chunk[pos]!;
      const length = chunk.readUInt32BE(pos + 1);
      if (length < 4 || length > this.maxMessageLength) return this.framingError(code, length);
      const total = length + 1;
      const treat = this.table[code];
      this.messageStart = pos;
      let disposition: Disposition = Disposition.Forward;
      if (treat === Treat.Whole) {
        if (pos + total > end) {
          this.flushForward(pos);
          this.pending = Buffer.from(chunk.subarray(pos, end));
          return this.release();
        }
        disposition = this.handler.onMessage(code, chunk, pos, total);
      } else if (treat === Treat.Header) {
        disposition = this.handler.onHeader(code, length);
      }
      if (this.stopped) return this.release();
      if (disposition === Disposition.Forward) {
        if (this.forwardStart < 0) this.forwardStart = pos;
      } else {
        this.flushForward(pos);
      }
      if (pos + total > end) {
        this.remaining = pos + total - end;
        this.remainingForward = disposition === Disposition.Forward;
        pos = end;
        break;
      }
      pos += total;
    }
    this.flushForward(end);
    this.release();
  }

  /**
   * Write what the handler built itself, after everything forwarded so far from the current
   * chunk, so the client sees messages in order.
   */
  inject(message: Buffer, upTo: number): void {
    this.flushForward(upTo);
    this.write(message);
  }

  /**
   * Write what was forwarded from the current chunk before the message being handled, e.g. before
   * a stop; true when there was something.
   */
  flushBeforeCurrent(): boolean {
    const some = this.chunk !== null && this.forwardStart >= 0 && this.messageStart > this.forwardStart;
    this.flushForward(this.messageStart);
    return some;
  }

  private release(): void {
    this.chunk = null;
    this.forwardStart = -1;
  }

  private flushForward(upTo: number): void {
    if (this.forwardStart >= 0 && this.chunk !== null) {
      if (upTo > this.forwardStart) this.write(this.chunk.subarray(this.forwardStart, upTo));
      this.forwardStart = -1;
    }
  }

  private write(data: Buffer): void {
    const target = this.destination;
    if (target === null || target.destroyed) return;
    if (!target.write(data)) this.handler.onTargetFull();
  }

  /** complete the message whose start arrived in an earlier chunk; returns bytes of `chunk` used */
  private resumePending(chunk: Buffer): number {
    let head = this.pending!;
    let used = 0;
    this.messageStart = 0;
    if (head.length < HEADER_LENGTH) {
      used = Math.min(HEADER_LENGTH - head.length, chunk.length);
      head = Buffer.concat([head, chunk.subarray(0, used)]);
      if (head.length < HEADER_LENGTH) {
        this.pending = head;
        return used;
      }
    }
    const code = head[0]!;
    const length = head.readUInt32BE(1);
    if (length < 4 || length > this.maxMessageLength) {
      this.framingError(code, length);
      return chunk.length;
    }
    const total = length + 1;
    if (this.table[code] === Treat.Whole) {
      const missing = total - head.length;
      if (chunk.length - used < missing) {
        this.pending = Buffer.concat([head, chunk.subarray(used)]);
        return chunk.length;
      }
      const message = missing > 0 ? Buffer.concat([head, chunk.subarray(used, used + missing)]) : head;
      this.pending = null;
      if (this.handler.onMessage(code, message, 0, total) === Disposition.Forward && !this.stopped) {
        this.write(message);
      }
      return used + missing;
    }
    // Only a partial header is ever kept for other codes, so `head` is exactly the header here.
    this.pending = null;
    const disposition =
      this.table[code] === Treat.Header ? this.handler.onHeader(code, length) : Disposition.Forward;
    if (this.stopped) return chunk.length;
    if (disposition === Disposition.Forward) this.write(head);
    this.remaining = total - HEADER_LENGTH;
    this.remainingForward = disposition === Disposition.Forward;
    return used;
  }

  private framingError(code: number, length: number): void {
    this.stopped = true;
    this.release();
    const letter = code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16)}`;
    this.handler.onFramingError(`invalid message length ${length} for message type ${letter}`);
  }
}
