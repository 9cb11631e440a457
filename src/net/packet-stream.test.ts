// The framer must give the same result however the byte stream is cut into chunks.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { wire } from '../testing/wire.js';
import { Disposition, PacketStream, Treat, treatTable, type PacketHandler } from './packet-stream.js';

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
  onFramingError(message: string): void {
    this.events.push(`error ${message}`);
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
    expect(result.events.at(-1)).toBe("error invalid message length 2 for message type 'D'");
  });
});
