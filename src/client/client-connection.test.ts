// The fault boundary of a client connection: a bug met while handling one client's bytes ends that
// client with a generic 08006-class error and leaves the process and every other client alone.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../config/settings.js';
import { PoolerError, SqlState } from '../errors.js';
import { silentLogger } from '../log.js';
import { wire } from '../testing/wire.js';
import { ClientConnection, type ClientContext } from './client-connection.js';

/** a context whose database lookup throws for one name: a stand-in for any bug in a handler */
const context = {
  settings: defaultSettings(),
  log: silentLogger,
  clientTls: null,
  findDatabase(name: string) {
    if (name === 'boom') throw new TypeError("Cannot read properties of null (reading 'pool')");
    return new PoolerError('NO_SUCH_DATABASE', SqlState.invalidCatalogName, `no such database: ${name}`);
  },
  chooseAuth: () => ({ method: 'trust', certificateMap: null }),
  onClientClosed: () => undefined,
} as unknown as ClientContext;

let server: net.Server;
let port = 0;

beforeAll(async () => {
  server = net.createServer((socket) => new ClientConnection(socket, context));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** log in to `database` and return what came back until the connection closed */
function attempt(database: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', () => undefined);
    socket.write(wire().int32(196608).cstring('user').cstring('alice').cstring('database').cstring(database).bytes('\0').untyped());
  });
}

describe('a fault while handling a client', () => {
  it('ends that client with XX000 and no internals, and the next clients are handled as before', async () => {
    const [faulty, other] = await Promise.all([attempt('boom'), attempt('elsewhere')]);
    expect(faulty).toContain('XX000');
    expect(faulty).toContain('internal error in the pooler; the connection is closed');
    expect(faulty).not.toContain('Cannot read properties');
    expect(other).toContain('no such database: elsewhere');
    // the same again: nothing was left broken by the first fault
    expect(await attempt('elsewhere')).toContain('no such database: elsewhere');
    expect(await attempt('boom')).toContain('XX000');
  });
});
