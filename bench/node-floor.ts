// The bench's `floor` target (--floor): the least a transaction pooler on Node's sockets can cost,
// to tell Node's own cost per transaction from what pooler adds. Fakes a trust login, frames and
// checks nothing: for pgbench -S only (`node node-floor.js <port> <PostgreSQL port> <pool size> <db>`).
import net, { type Socket } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const READY_IDLE_TAIL = [0x5a, 0, 0, 0, 5, 0x49];

interface FloorServer {
  readonly socket: Socket;
  client: FloorClient | null;
}

interface FloorClient {
  readonly socket: Socket;
  server: FloorServer | null;
  pending: Buffer[];
  loggedIn: boolean;
}

const idle: FloorServer[] = [];
const waiting: FloorClient[] = [];

function endsReadyIdle(chunk: Buffer): boolean {
  const start = chunk.length - READY_IDLE_TAIL.length;
  return start >= 0 && READY_IDLE_TAIL.every((byte, i) => chunk[start + i] === byte);
}

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.writeUInt32BE(196608, 4);
  return Buffer.concat([header, body]);
}

function message(code: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** AuthenticationOk, what libpq wants to hear, BackendKeyData and ReadyForQuery */
const WELCOME = Buffer.concat([
  message('R', Buffer.alloc(4)),
  ...[['server_version', '15'], ['client_encoding', 'UTF8'], ['standard_conforming_strings', 'on'], ['integer_datetimes', 'on']].map(([name, value]) => message('S', Buffer.from(`${name}\0${value}\0`))),
  message('K', Buffer.alloc(8)),
  message('Z', Buffer.from('I')),
]);

function link(client: FloorClient, server: FloorServer): void {
  client.server = server;
  server.client = client;
  const pending = client.pending;
  client.pending = [];
  server.socket.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
}

function release(server: FloorServer): void {
  if (server.client !== null) server.client.server = null;
  server.client = null;
  const next = waiting.shift();
  if (next !== undefined) link(next, server);
  else idle.push(server);
}

function openServer(port: number, database: string): Promise<FloorServer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const server: FloorServer = { socket, client: null };
    let ready = false;
    socket.on('connect', () => socket.write(startupMessage('postgres', database)));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      if (!ready) {
        ready = endsReadyIdle(chunk);
        if (ready) resolve(server);
        return;
      }
      server.client?.socket.write(chunk);
      if (endsReadyIdle(chunk)) release(server);
    });
  });
}

/** a client read goes whole to its server, or waits for one; a read after a ReadyForQuery 'I' is a new transaction */
function serveClient(socket: Socket): void {
  socket.setNoDelay(true);
  const client: FloorClient = { socket, server: null, pending: [], loggedIn: false };
  socket.on('error', () => undefined);
  socket.on('close', () => {
    const at = waiting.indexOf(client);
    if (at >= 0) waiting.splice(at, 1);
  });
  socket.on('data', (chunk: Buffer) => {
    if (!client.loggedIn) {
      const code = chunk.readUInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) return void socket.write('N');
      client.loggedIn = true;
      return void socket.write(WELCOME);
    }
    if (chunk[0] === 0x58) return void socket.end();
    if (client.server !== null) return void client.server.socket.write(chunk);
    client.pending.push(chunk);
    if (client.pending.length > 1) return;
    const server = idle.pop();
    if (server !== undefined) link(client, server);
    else waiting.push(client);
  });
}

async function main(): Promise<void> {
  const [listenPort, postgresPort, poolSize] = process.argv.slice(2, 5).map(Number);
  const database = process.argv[5] ?? 'bench';
  for (let i = 0; i < poolSize!; i++) idle.push(await openServer(postgresPort!, database));
  net.createServer(serveClient).listen(listenPort, '127.0.0.1', () => process.stdout.write('listening\n'));
}

void main();
