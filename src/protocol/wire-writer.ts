// A small growable writer for the messages the pooler builds itself (login replies, errors,
// startup and SET queries toward servers). Not used on the forwarding path.

export class WireWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(size = 256) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  private ensure(extra: number): void {
    if (this.offset + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + extra));
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
  }

  byte(value: number): this {
    this.ensure(1);
    this.buffer[this.offset++] = value;
    return this;
  }

  int16(value: number): this {
    this.ensure(2);
    this.buffer.writeInt16BE(value, this.offset);
    this.offset += 2;
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    this.buffer.writeInt32BE(value, this.offset);
    this.offset += 4;
    return this;
  }

  /** a NUL-terminated UTF-8 string */
  cstring(value: string): this {
    const length = Buffer.byteLength(value);
    this.ensure(length + 1);
    this.buffer.write(value, this.offset, 'utf8');
    this.offset += length;
    this.buffer[this.offset++] = 0;
    return this;
  }

  bytes(value: Buffer): this {
    this.ensure(value.length);
    value.copy(this.buffer, this.offset);
    this.offset += value.length;
    return this;
  }

  /** finish as a typed message: code byte, then an int32 length that counts itself and the body */
  message(code: number): Buffer {
    const out = Buffer.allocUnsafe(this.offset + 5);
    out[0] = code;
    out.writeInt32BE(this.offset + 4, 1);
    this.buffer.copy(out, 5, 0, this.offset);
    return out;
  }

  /** finish as an untyped message (startup, cancel): int32 length, then the body */
  untyped(): Buffer {
    const out = Buffer.allocUnsafe(this.offset + 4);
    out.writeInt32BE(this.offset + 4, 0);
    this.buffer.copy(out, 4, 0, this.offset);
    return out;
  }
}
