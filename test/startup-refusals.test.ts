// Startup packets PostgreSQL refuses without a word (it only logs them) are refused the same way
// through the pooler, and those it answers with an ErrorResponse still get one; each case is sent to
// PostgreSQL direct too. node-postgres's end() before its connect() finished sends a Terminate where
// the startup packet belongs, which once came back as a thrown "invalid startup packet length 1476395008".
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from '../src/protocol/codes.js';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { TEST_DATABASE } from './harness/roles.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields } from './support/raw-client.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

beforeAll(async () => {
  pooler = await startPooler({
    settings: { auth_type: 'trust' },
    databases: { [TEST_DATABASE]: `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE}` },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

interface Reply {
  /** every byte that came back */
  bytes: Buffer;
  /** the other side closed the connection within the time */
  closed: boolean;
}

/**
 * `writes` sent on a new connection, each after the one before had a moment to be answered, and
 * what came back until the other side closed it
 */
function exchange(to: net.NetConnectOpts, writes: Buffer[], timeoutMs = 1500): Promise<Reply> {
  return new Promise((resolve) => {
    const socket = net.connect(to);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    socket.on('connect', async () => {
      for (const data of writes) {
        if (socket.destroyed) return;
        socket.write(data);
        await new Promise((wait) => setTimeout(wait, 100));
      }
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closed: true });
    });
  });
}

/**
 * The same writes to PostgreSQL direct and through the pooler. GSSENCRequest goes to PostgreSQL
 * over its Unix socket, where it refuses GSS encryption even when built with GSSAPI (it would
 * answer 'G' over TCP, which the pooler never does).
 */
async function both(...writes: Buffer[]): Promise<{ direct: Reply; pooled: Reply }> {
  const gss = writes.some((data) => data.length >= 8 && data.readUInt32BE(4) === GSSENC_REQUEST_CODE);
  const socketDir = postgres.socketDir;
  const direct: net.NetConnectOpts = gss && socketDir !== null ? { path: `${socketDir}/.s.PGSQL.${postgres.port}` } : { host: postgres.host, port: postgres.port };
  const [directReply, pooled] = await Promise.all([exchange(direct, writes), exchange({ host: '127.0.0.1', port: pooler.port }, writes)]);
  return { direct: directReply, pooled };
}

/** the SQLSTATE of the ErrorResponse that opens `bytes` */
function sqlstateOf(bytes: Buffer): string | undefined {
  if (bytes[0] !== 0x45) return undefined;
  return errorFields(bytes.subarray(5, 1 + bytes.readUInt32BE(1))).C;
}

/** `size` bytes that start with the length field `length` */
function lengthThenZeros(length: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32BE(length, 0);
  return bytes;
}

const startup = (version: number) => wire().int32(version).cstring('user').cstring('postgres').cstring('database').cstring(TEST_DATABASE).bytes('\0').untyped();

describe('startup packets PostgreSQL closes without a word', () => {
  const silent: Array<[string, Buffer]> = [
    // what node-postgres's end() sends before its startup packet: length 0x58000000
    ['a Terminate where the startup packet belongs', Buffer.from([0x58, 0, 0, 0, 4])],
    ['a length below 8', Buffer.from([0, 0, 0, 3, 0, 0, 0, 0])],
    ['a length over 10 000 bytes of body', lengthThenZeros(4 + 10_001, 16)],
    ['a CancelRequest of the wrong length', wire().int32(CANCEL_REQUEST_CODE).int32(1).untyped()],
    // a ClientHello to a server without TLS: PostgreSQL reads its first bytes as a huge length
    ['a TLS handshake when TLS is off', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])],
  ];
  for (const [name, data] of silent) {
    it(`${name}: no byte back, and closed`, async () => {
      const { direct, pooled } = await both(data);
      expect(direct).toEqual({ bytes: Buffer.alloc(0), closed: true });
      expect(pooled).toEqual({ bytes: Buffer.alloc(0), closed: true });
    });
  }

  it('a startup packet of exactly 10 000 bytes after its length field is read, as PostgreSQL reads it', async () => {
    const body = () => wire().int32(196608).cstring('user').cstring('postgres').cstring('database').cstring(TEST_DATABASE).cstring('application_name');
    // the length field, the parameters so far, then the value's and the list's terminating zeros
    const value = 'a'.repeat(10_004 - body().untyped().length - 2);
    const packet = body().cstring(value).bytes('\0').untyped();
    expect(packet.length).toBe(10_004);
    const { direct, pooled } = await both(packet);
    expect(direct.bytes[0]).toBe(0x52); // R: AuthenticationOk
    expect(pooled.bytes[0]).toBe(0x52);
  });
});

describe('startup packets PostgreSQL answers with an error', () => {
  it('an unsupported protocol version: 0A000 from both', async () => {
    const { direct, pooled } = await both(startup(4 << 16));
    expect(sqlstateOf(direct.bytes)).toBe('0A000');
    expect(sqlstateOf(pooled.bytes)).toBe('0A000');
    expect(pooled.closed).toBe(true);
  });

  const ssl = wire().int32(SSL_REQUEST_CODE).untyped();
  const gssenc = wire().int32(GSSENC_REQUEST_CODE).untyped();

  it('a second SSLRequest after the first was refused reads as protocol 1234.5679: 0A000 from both', async () => {
    const { direct, pooled } = await both(ssl, ssl);
    for (const reply of [direct, pooled]) {
      expect(reply.bytes.subarray(0, 1).toString()).toBe('N');
      const error = reply.bytes.subarray(1);
      expect(sqlstateOf(error)).toBe('0A000');
      expect(errorFields(error.subarray(5)).M).toMatch(/^unsupported frontend protocol 1234\.5679/);
      expect(reply.closed).toBe(true);
    }
  });

  // PostgreSQL built with GSSAPI refuses GSS encryption only on its Unix socket
  const noUnixSocket = postgres.socketDir === null;

  it.skipIf(noUnixSocket)('a GSSENCRequest then an SSLRequest, each refused, then a startup packet: logged in by both', async () => {
    const { direct, pooled } = await both(gssenc, ssl, startup(196608));
    for (const reply of [direct, pooled]) {
      expect(reply.bytes.subarray(0, 2).toString()).toBe('NN');
      expect(reply.bytes[2]).toBe(0x52); // R: AuthenticationOk
    }
  });

  for (const [name, request, text] of [
    ['SSLRequest', ssl, 'received unencrypted data after SSL request'],
    ['GSSENCRequest', gssenc, 'received unencrypted data after GSSAPI encryption request'],
  ] as const) {
    it.skipIf(noUnixSocket && request === gssenc)(`bytes sent with a refused ${name}, before its answer: 08P01 from both`, async () => {
      const { direct, pooled } = await both(Buffer.concat([request, startup(196608)]));
      for (const reply of [direct, pooled]) {
        expect(reply.bytes.subarray(0, 1).toString()).toBe('N');
        const error = reply.bytes.subarray(1);
        expect(sqlstateOf(error)).toBe('08P01');
        expect(errorFields(error.subarray(5)).M).toBe(text);
        expect(reply.closed).toBe(true);
      }
    });
  }
});

describe('node-postgres end() right after connect()', () => {
  /** everything the client raised: connect's rejection and 'error' events */
  async function connectThenEnd(connectionString: string): Promise<unknown[]> {
    const raised: unknown[] = [];
    const client = new pg.Client({ connectionString });
    client.on('error', (error) => raised.push(error));
    const connecting = client.connect().catch((error: unknown) => raised.push(error));
    await client.end();
    // connect() never settles once end() won; give an error the time to arrive
    await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, 500))]);
    return raised;
  }

  it('raises nothing, direct or through the pooler', async () => {
    expect(await connectThenEnd(postgres.url(TEST_DATABASE))).toEqual([]);
    expect(await connectThenEnd(pooler.url(TEST_DATABASE, 'postgres'))).toEqual([]);
  });
});
