// Test-only: a declarative builder for wire bytes, so tests read as protocol transcripts
// (`wire().cstring('select 1').message('Q')`) instead of hex literals.

export class Wire {
  private parts: Buffer[] = [];

  int16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.parts.push(b);
    return this;
  }

  int32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }

  cstring(value: string): this {
    this.parts.push(Buffer.from(value + '\0'));
    return this;
  }

  bytes(value: Buffer | string): this {
    this.parts.push(Buffer.from(value));
    return this;
  }

  /** a typed message with the given one-letter code */
  message(code: string): Buffer {
    const body = Buffer.concat(this.parts);
    const header = Buffer.alloc(5);
    header.write(code, 0, 'latin1');
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  }

  /** an untyped message (startup, SSLRequest, CancelRequest) */
  untyped(): Buffer {
    const body = Buffer.concat(this.parts);
    const header = Buffer.alloc(4);
    header.writeInt32BE(body.length + 4);
    return Buffer.concat([header, body]);
  }
}

export function wire(): Wire {
  return new Wire();
}
