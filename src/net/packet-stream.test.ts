// The framer must give the same result however the byte stream is cut into chunks.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { wire } from '../testing/wire.js';
import { describeCode, Disposition, PacketStream, Treat, treatTable, type PacketHandler } from './packet-stream.js';

const Z = 0x5a;
const D = 0x44;
const E = 0x45;

/** a socket stand-in that records what was written to it */
class Sink extends Duplex {
  written: Buffer[] = [];
  destroyedFlag = false;
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.written.push(Buffer.from(chunk));
    done();
  }
  override _read(): void {}
  get bytes(): Buffer {
    return Buffer.concat(this.written);
  }
}

class Recorder implements PacketHandler {
  events: string[] = [];
  skipCodes = new Set<number>();
  onHeader(code: number, length: number): Disposition {
    this.events.push(`header ${String.fromCharCode(code)} ${length}`);
    return this.skipCodes.has(code) ? Disposition.Skip : Disposition.Forward;
  }
  onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
    this.events.push(`whole ${String.fromCharCode(code)} ${buffer.subarray(offset + 5, offset + total).toString('latin1')}`);
    return this.skipCodes.has(code) ? Disposition.Skip : Disposition.Forward;
  }
  onFramingError(code: number, length: number): void {
    this.events.push(`error length ${length} for ${describeCode(code)}`);
  }
  onTargetFull(): void {}
}

const stream = Buffer.concat([
  wire().int16(1).int32(3).bytes('abc').message('D'),
  wire().cstring('SELECT 1').message('C'),
  wire().bytes('SERROR\0').message('E'),
  wire().int16(1).int32(300).bytes('x'.repeat(300)).message('D'),
  wire().bytes('I').message('Z'),
]);

function run(chunks: Buffer[], skip: number[] = []): { events: string[]; out: Buffer; writes: number } {
  const handler = new Recorder();
  for (const code of skip) handler.skipCodes.add(code);
  const sink = new Sink();
  const framer = new PacketStream(handler, treatTable({ [Z]: Treat.Whole, [E]: Treat.Whole, [D]: Treat.Header }), 1 << 20);
  framer.target = sink as unknown as Socket;
  for (const chunk of chunks) framer.feed(chunk);
  return { events: handler.events, out: sink.bytes, writes: sink.written.length };
}

describe('PacketStream', () => {
  const whole = run([stream]);

  it('forwards a whole buffer in one write and reports each message once', () => {
    expect(whole.out.equals(stream)).toBe(true);
    expect(whole.writes).toBe(1);
    expect(whole.events).toEqual(['header D 13', 'whole E SERROR\0', 'header D 310', 'whole Z I']);
  });

  it('gives the same bytes and events when split at every offset', () => {
    for (let at = 1; at < stream.length; at++) {
      const split = run([stream.subarray(0, at), stream.subarray(at)]);
      expect(split.out.equals(stream), `split at ${at}`).toBe(true);
      expect(split.events, `split at ${at}`).toEqual(whole.events);
    }
  });

  it('hands over a read message with no body as soon as its header completes, when that is the end of a chunk', () => {
    // a PortalSuspended (or ParseComplete, NoData) last in the reply, its header cut by the chunk
    // boundary: the client waits for it, and no further byte will come to push it through
    const suspended = wire().message('s');
    for (let at = 1; at < suspended.length; at++) {
      const handler = new Recorder();
      const sink = new Sink();
      const framer = new PacketStream(handler, treatTable({ [suspended[0]!]: Treat.Whole }), 1 << 20);
      framer.target = sink as unknown as Socket;
      framer.feed(suspended.subarray(0, at));
      framer.feed(suspended.subarray(at));
      expect(handler.events, `split at ${at}`).toEqual(['whole s ']);
      expect(sink.bytes.equals(suspended), `split at ${at}`).toBe(true);
    }
  });

  it('survives being fed one byte at a time', () => {
    const chunks = [...stream].map((byte) => Buffer.from([byte]));
    const bytewise = run(chunks);
    expect(bytewise.out.equals(stream)).toBe(true);
    expect(bytewise.events).toEqual(whole.events);
  });

  it('drops skipped messages, whole or streamed, at every split', () => {
    const expected = Buffer.concat([
      wire().cstring('SELECT 1').message('C'),
      wire().bytes('SERROR\0').message('E'),
      wire().bytes('I').message('Z'),
    ]);
    for (let at = 0; at <= stream.length; at++) {
      const split = run([stream.subarray(0, at), stream.subarray(at)], [D]);
      expect(split.out.equals(expected), `split at ${at}`).toBe(true);
    }
  });

  it('never changes bytes it already handed to write()', () => {
    const first = Buffer.from(stream.subarray(0, 40));
    const second = Buffer.from(stream.subarray(40));
    const copyOfFirst = Buffer.from(first);
    run([first, second]);
    expect(first.equals(copyOfFirst)).toBe(true);
  });

  it('stops on an impossible length and says which message', () => {
    const bad = Buffer.concat([wire().bytes('I').message('Z'), Buffer.from([0x44, 0, 0, 0, 2])]);
    const result = run([bad]);
    expect(result.events.at(-1)).toBe("error length 2 for 'D'");
  });
});

/** feed `chunks` through a stream with the given table and limits; what came out and what was seen */
function runWith(chunks: Buffer[], table: Uint8Array, maxLength: number, inspectLimit = maxLength): { events: string[]; out: Buffer } {
  const handler = new Recorder();
  const sink = new Sink();
  const framer = new PacketStream(handler, table, maxLength, inspectLimit);
  framer.target = sink as unknown as Socket;
  for (const chunk of chunks) framer.feed(chunk);
  return { events: handler.events.map((e) => (e.length > 60 ? `${e.slice(0, 40)}…(${e.length})` : e)), out: sink.bytes };
}

/** `data` cut into pieces of `size` bytes */
function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) out.push(data.subarray(at, at + size));
  return out;
}

describe('PacketStream limits and large messages', () => {
  const Q = 0x51;
  const big = wire().bytes('y'.repeat(300_000)).message('Q');
  const tail = wire().bytes('I').message('Z');

  it('accepts a message exactly at the limit and refuses one byte more, before forwarding any of it', () => {
    const table = treatTable({ [Q]: Treat.Header });
    const atLimit = runWith([big, tail], table, big.length - 1);
    expect(atLimit.out.equals(Buffer.concat([big, tail]))).toBe(true);
    const over = runWith([big, tail], table, big.length - 2);
    expect(over.events).toEqual([`error length ${big.length - 1} for 'Q'`]);
    expect(over.out.length).toBe(0);
  });

  it('gathers a 300 kB inspected message arriving in 1 kB chunks, and after a split at every offset of its header', () => {
    const table = treatTable({ [Q]: Treat.Whole, [Z]: Treat.Whole });
    const expected = runWith([big, tail], table, 1 << 30);
    expect(expected.events).toEqual([`whole Q ${'y'.repeat(32)}…(${'whole Q '.length + 300_000})`, 'whole Z I']);
    const chunked = runWith(pieces(Buffer.concat([big, tail]), 1024), table, 1 << 30);
    expect(chunked.out.equals(Buffer.concat([big, tail]))).toBe(true);
    expect(chunked.events).toEqual(expected.events);
    for (const at of [1, 4, 5, 6, big.length - 1, big.length, big.length + 1]) {
      const both = Buffer.concat([big, tail]);
      const split = runWith([both.subarray(0, at), both.subarray(at)], table, 1 << 30);
      expect(split.events, `split at ${at}`).toEqual(expected.events);
      expect(split.out.equals(both), `split at ${at}`).toBe(true);
    }
  });

  it('reads a Capped message whole up to the inspect limit and only its header beyond, forwarding both', () => {
    const table = treatTable({ [E]: Treat.Capped, [Z]: Treat.Whole });
    const small = wire().bytes('SERROR\0').message('E');
    const large = wire().bytes('M' + 'z'.repeat(5000) + '\0').message('E');
    const all = Buffer.concat([small, large, tail]);
    for (let at = 0; at <= all.length; at += 97) {
      const result = runWith([all.subarray(0, at), all.subarray(at)], table, 1 << 20, 1000);
      expect(result.events, `split at ${at}`).toEqual(['whole E SERROR\0', `header E ${large.length - 1}`, 'whole Z I']);
      expect(result.out.equals(all), `split at ${at}`).toBe(true);
    }
  });

  it('a lying length inside a later chunk stops the stream after what came before it was forwarded', () => {
    const table = treatTable({ [Q]: Treat.Header });
    const good = wire().cstring('select 1').message('Q');
    const bad = Buffer.from([Q, 0, 0, 0, 3]);
    for (let at = 0; at <= good.length + bad.length; at++) {
      const all = Buffer.concat([good, bad]);
      const result = runWith([all.subarray(0, at), all.subarray(at)], table, 1 << 20);
      expect(result.events.at(-1), `split at ${at}`).toBe("error length 3 for 'Q'");
    }
  });
});

describe('PacketStream Hold', () => {
  /** feed `input` cut at `at` until the stream holds a message; what it gives back, with the bytes not yet fed */
  function feedUntilHeld(framer: PacketStream, input: Buffer, at: number): Buffer | null {
    const pieces = [input.subarray(0, at), input.subarray(at)];
    for (let i = 0; i < pieces.length; i++) {
      framer.feed(pieces[i]!);
      const rest = framer.takeRest();
      if (rest !== null) return i === 0 ? Buffer.concat([rest, pieces[1]!]) : rest;
    }
    return null;
  }

  /** holds the first 'P' it sees, forwards everything else */
  class Holder extends Recorder {
    held = false;
    override onMessage(code: number, buffer: Buffer, offset: number, total: number): Disposition {
      if (code === 0x50 && !this.held) {
        this.held = true;
        return Disposition.Hold;
      }
      return super.onMessage(code, buffer, offset, total);
    }
  }
  const before = wire().cstring('select 1').message('Q');
  const held = wire().cstring('s1').cstring('x'.repeat(3000)).int16(0).message('P');
  const after = wire().message('S');
  const all = Buffer.concat([before, held, after]);

  it('forwards what came before a held message and gives back the message and the rest, at every split', () => {
    for (let at = 0; at <= all.length; at++) {
      const handler = new Holder();
      const sink = new Sink();
      const framer = new PacketStream(handler, treatTable({ [0x50]: Treat.Whole }), 1 << 20);
      framer.target = sink as unknown as Socket;
      const rest = feedUntilHeld(framer, all, at);
      expect(sink.bytes.equals(before), `split at ${at}`).toBe(true);
      expect(rest?.equals(Buffer.concat([held, after])), `split at ${at}`).toBe(true);
      expect(framer.betweenMessages).toBe(true);
      // fed again, the held message now goes through
      framer.feed(rest!);
      expect(sink.bytes.equals(all), `split at ${at}`).toBe(true);
    }
  });

  it('holds a message read no further than its header too (a text over the inspect limit), at every split, losing no byte', () => {
    /** holds the first header-only 'Q' */
    class HeaderHolder extends Recorder {
      held = false;
      override onHeader(code: number, length: number): Disposition {
        if (code === 0x51 && !this.held) {
          this.held = true;
          return Disposition.Hold;
        }
        return super.onHeader(code, length);
      }
    }
    const small = wire().cstring('select 1').message('Q');
    const large = wire().cstring(`select '${'y'.repeat(5000)}'`).message('Q');
    const input = Buffer.concat([wire().message('S'), large, small]);
    for (let at = 0; at <= input.length; at++) {
      const handler = new HeaderHolder();
      const sink = new Sink();
      const framer = new PacketStream(handler, treatTable({ [0x51]: Treat.Capped }), 1 << 20, 1000);
      framer.target = sink as unknown as Socket;
      const rest = feedUntilHeld(framer, input, at);
      expect(sink.bytes.equals(input.subarray(0, 5)), `split at ${at}`).toBe(true);
      expect(rest?.equals(input.subarray(5)), `split at ${at}`).toBe(true);
      expect(framer.betweenMessages, `split at ${at}`).toBe(true);
      framer.feed(rest!);
      expect(sink.bytes.equals(input), `split at ${at}`).toBe(true);
    }
  });
});
