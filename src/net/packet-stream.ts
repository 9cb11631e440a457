// PacketStream: our sbuf. Frames one socket's byte stream by the 5-byte message headers and moves
// each message on as a slice of the chunk it arrived in: forwarded to the current target socket,
// skipped, or (for the few codes the handler must read) handed over whole first.
//
// Bodies are never waited for unless inspected: a 1 GB DataRow streams through chunk by chunk.
// Consecutive forwarded messages become one write per 'data' event. An inspected message split
// across chunks is gathered as a list of slices and joined once when complete (never a copy per
// chunk), and a split header in a fresh 5-byte buffer: bytes inside a chunk that may still sit in a
// socket's write queue are never moved or changed.
import type { Socket } from 'node:net';
import { HEADER_LENGTH } from '../protocol/codes.js';

/**
 * what to do with one message. Hold (from onMessage, or onHeader before any of the message was
 * forwarded): read nothing from this message on; it and the rest of the chunk come back from
 * takeRest, to be fed again when the handler can decide.
 */
export const Disposition = { Forward: 0, Skip: 1, Hold: 2 } as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

/** how the stream treats a message code; one Uint8Array(256) per direction and phase */
export const Treat = {
  /** forward without telling anyone (DataRow, CopyData, ...) */
  Pass: 0,
  /** call onHeader with code and length; the body is not read */
  Header: 1,
  /** collect the whole message and call onMessage, however long (up to the stream's limit) */
  Whole: 2,
  /**
   * collect and call onMessage when the message is at most `inspectLimit` long, else treat it as
   * Header: for messages worth reading but not worth holding whole (a 300 MB ErrorResponse)
   */
  Capped: 3,
} as const;

export function treatTable(entries: Record<number, number>): Uint8Array {
  const table = new Uint8Array(256);
  for (const [code, treat] of Object.entries(entries)) table[Number(code)] = treat;
  return table;
}

export interface PacketHandler {
  /** a message marked Treat.Header (or a Capped one over the inspect limit); its body has not been read */
  onHeader(code: number, length: number): Disposition;
  /** a message marked Treat.Whole: `buffer[offset, offset + total)` is the whole message, header included */
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition;
  /** the length is below 4 or over the stream's limit; the stream has stopped */
  onFramingError(code: number, length: number): void;
  /** a write to the target did not fit; the handler should pause this stream's socket */
  onTargetFull(): void;
}

export class PacketStream {
  /** where forwarded messages go; null drops them */
  private destination: Socket | null = null;
  /** the per-code treatment currently in force */
  table: Uint8Array;
  /** the longest message accepted, length field included; the owner sets it per phase */
  maxMessageLength: number;
  /** the longest Treat.Capped message read whole */
  inspectLimit: number;
  /** per message code, a lower limit than maxMessageLength (0: none); the owner sets it per phase */
  codeLimits: Uint32Array | null = null;
  /** bytes read into this stream since the stats last took them */
  private bytes = 0;

  private stopped = false;
  /** bytes of the current message body still to come in later chunks */
  private remaining = 0;
  private remainingForward = false;
  /** the first bytes of a header that the last chunk cut off */
  private headerPart: Buffer | null = null;
  /** an inspected message arriving over several chunks: its slices so far, joined once complete */
  private parts: Buffer[] | null = null;
  private partsLength = 0;
  private partsTotal = 0;
  // the chunk being fed and the start of its not-yet-written forward range
  private chunk: Buffer | null = null;
  private forwardStart = -1;
  /** where in the chunk the message being handled starts (0 when it began in an earlier chunk) */
  private messageStart = 0;
  /** set by pauseAfterCurrent: stop after the message being handled and keep the rest of the chunk */
  private pausing = false;
  private rest: Buffer | null = null;

  constructor(
    private readonly handler: PacketHandler,
    table: Uint8Array,
    maxMessageLength: number,
    inspectLimit = maxMessageLength,
  ) {
    this.table = table;
    this.maxMessageLength = maxMessageLength;
    this.inspectLimit = inspectLimit;
  }

  /** the bytes read since the last call, for the per-database totals */
  takeBytes(): number {
    const bytes = this.bytes;
    this.bytes = 0;
    return bytes;
  }

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

  /** true when no message is half-received: a link may change now without splitting one */
  get betweenMessages(): boolean {
    return this.remaining === 0 && this.headerPart === null && this.parts === null;
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
    while (pos < end && !this.stopped && !this.pausing) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, end - pos);
        if (this.remainingForward && this.forwardStart < 0) this.forwardStart = pos;
        this.remaining -= take;
        pos += take;
      } else if (this.parts !== null) {
        pos = this.gather(chunk, pos);
      } else if (this.headerPart !== null || end - pos < HEADER_LENGTH) {
        pos = this.splitHeader(chunk, pos);
      } else {
        pos = this.onMessageStart(chunk, pos);
      }
    }
    if (this.pausing) {
      this.pausing = false;
      this.flushForward(pos);
      if (pos < end && !this.stopped) this.rest = this.rest === null ? chunk.subarray(pos) : Buffer.concat([this.rest, chunk.subarray(pos)]);
    } else if (!this.stopped) {
      this.flushForward(end);
    }
    this.release();
  }

  /**
   * Called from a handler: read nothing more of this chunk after the current message. What is left
   * (takeRest) belongs to whatever the message changed: the bytes after a password that completed
   * the login are work, read with the work phase's table and limits, not the login's.
   */
  pauseAfterCurrent(): void {
    if (this.chunk !== null) this.pausing = true;
  }

  /** where the message being handled starts in the current chunk (for inject) */
  get currentMessageStart(): number {
    return this.messageStart;
  }

  /** the part of the last chunk that pauseAfterCurrent left unread, once */
  takeRest(): Buffer | null {
    const rest = this.rest;
    this.rest = null;
    return rest;
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

  /** a message whose header lies whole in `chunk` at `pos`; returns where the next one starts */
  private onMessageStart(chunk: Buffer, pos: number): number {
    const end = chunk.length;
    const code = chunk[pos]!;
    const length = chunk.readUInt32BE(pos + 1);
    if (!this.acceptable(code, length)) return end;
    const total = length + 1;
    this.messageStart = pos;
    if (this.readsWhole(code, total)) {
      if (pos + total <= end) {
        const disposition = this.handler.onMessage(code, chunk, pos, total);
        if (disposition !== Disposition.Hold) return this.settle(disposition, pos, total);
        this.pausing = true;
        return pos;
      }
      this.flushForward(pos);
      this.parts = [chunk.subarray(pos)];
      this.partsLength = end - pos;
      this.partsTotal = total;
      return end;
    }
    const disposition = this.table[code] === Treat.Pass ? Disposition.Forward : this.handler.onHeader(code, length);
    if (this.stopped) return end;
    if (disposition === Disposition.Hold) {
      this.pausing = true;
      return pos;
    }
    if (pos + total <= end) return this.settle(disposition, pos, total);
    this.settle(disposition, pos, total);
    this.remaining = pos + total - end;
    this.remainingForward = disposition === Disposition.Forward;
    return end;
  }

  /** a header cut by a chunk boundary: keep its start, or complete it from the start of `chunk` */
  private splitHeader(chunk: Buffer, pos: number): number {
    const end = chunk.length;
    if (this.headerPart === null) {
      this.flushForward(pos);
      this.headerPart = Buffer.from(chunk.subarray(pos, end));
      return end;
    }
    const used = Math.min(HEADER_LENGTH - this.headerPart.length, end - pos);
    const head = Buffer.concat([this.headerPart, chunk.subarray(pos, pos + used)]);
    pos += used;
    if (head.length < HEADER_LENGTH) {
      this.headerPart = head;
      return end;
    }
    this.headerPart = null;
    const code = head[0]!;
    const length = head.readUInt32BE(1);
    if (!this.acceptable(code, length)) return end;
    const total = length + 1;
    // The message began in an earlier chunk: nothing of this one comes before it.
    this.messageStart = 0;
    if (this.readsWhole(code, total)) {
      this.parts = [head];
      this.partsLength = HEADER_LENGTH;
      this.partsTotal = total;
      // a message with no body is complete now, even when this chunk ends with its header
      return total === HEADER_LENGTH ? this.gather(chunk, pos) : pos;
    }
    const disposition = this.table[code] === Treat.Pass ? Disposition.Forward : this.handler.onHeader(code, length);
    if (this.stopped) return end;
    if (disposition === Disposition.Hold) {
      // the header came in pieces: it leads what is held
      this.pausing = true;
      this.rest = head;
      return pos;
    }
    if (disposition === Disposition.Forward) this.write(head);
    this.remaining = total - HEADER_LENGTH;
    this.remainingForward = disposition === Disposition.Forward;
    return pos;
  }

  /** add the next slice of an inspected message; hand it over once complete */
  private gather(chunk: Buffer, pos: number): number {
    const parts = this.parts!;
    const used = Math.min(this.partsTotal - this.partsLength, chunk.length - pos);
    parts.push(chunk.subarray(pos, pos + used));
    this.partsLength += used;
    if (this.partsLength < this.partsTotal) return pos + used;
    const message = Buffer.concat(parts, this.partsTotal);
    this.parts = null;
    this.messageStart = 0;
    const disposition = this.handler.onMessage(message[0]!, message, 0, message.length);
    if (disposition === Disposition.Hold) {
      this.pausing = true;
      this.rest = message;
    } else if (disposition === Disposition.Forward && !this.stopped) {
      this.write(message);
    }
    return pos + used;
  }

  /** extend the forward range over a message in this chunk, or cut it before a skipped one */
  private settle(disposition: Disposition, pos: number, total: number): number {
    if (disposition === Disposition.Forward) {
      if (this.forwardStart < 0) this.forwardStart = pos;
    } else {
      this.flushForward(pos);
    }
    return pos + total;
  }

  private readsWhole(code: number, total: number): boolean {
    const treat = this.table[code];
    return treat === Treat.Whole || (treat === Treat.Capped && total <= this.inspectLimit);
  }

  private acceptable(code: number, length: number): boolean {
    if (length >= 4 && length <= this.maxMessageLength && (this.codeLimits === null || this.codeLimits[code] === 0 || length <= this.codeLimits[code]!)) return true;
    this.stopped = true;
    this.release();
    this.handler.onFramingError(code, length);
    return false;
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
}

/** a message code as people read it in errors: 'Q', or 0x1f for an unprintable byte */
export function describeCode(code: number): string {
  return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16)}`;
}
