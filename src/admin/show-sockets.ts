// SHOW CLIENTS and SHOW SERVERS: one row per connection with PgBouncer 1.25.2's 21 columns
// (socket_header in admin.c), ids usable with KILL_CLIENT, then pooler's own: whether the client
// (or the server's client) is pinned to its server, and why.
import type { ClientSnapshot, ConsoleView, ServerSnapshot, SocketAddresses } from './console-context.js';
import { splitSeconds, timestamp } from './format.js';
import { int4, text, type Cell, type ResultSet } from './result-set.js';

const SOCKET_COLUMNS = [
  text('type'),
  text('user'),
  text('database'),
  text('replication'),
  text('state'),
  text('addr'),
  int4('port'),
  text('local_addr'),
  int4('local_port'),
  text('connect_time'),
  text('request_time'),
  int4('wait'),
  int4('wait_us'),
  int4('close_needed'),
  text('ptr'),
  text('link'),
  int4('remote_pid'),
  text('tls'),
  text('application_name'),
  int4('prepared_statements'),
  int4('id'),
  int4('pinned'),
  text('pin_reason'),
];

/** PgBouncer prints pointers here; ids in hex keep the column's role of a unique handle */
function pointer(kind: 'C' | 'S', id: number): string {
  return `0x${kind === 'C' ? 'c' : '5'}${id.toString(16).padStart(11, '0')}`;
}

function addresses(socket: SocketAddresses): [string, number, string, number] {
  const unix = socket.remoteAddress === undefined;
  return [
    unix ? 'unix' : socket.remoteAddress!,
    socket.remotePort ?? 0,
    unix ? 'unix' : (socket.localAddress ?? ''),
    socket.localPort ?? 0,
  ];
}

function clientRow(client: ClientSnapshot, state: string): Cell[] {
  const [wait, waitUs] = splitSeconds(client.wait);
  return [
    'C',
    client.user ?? '(nouser)',
    client.database ?? '(nodb)',
    'none',
    state,
    ...addresses(client),
    timestamp(client.connectTime),
    timestamp(client.lastActivity),
    wait,
    waitUs,
    0,
    pointer('C', client.id),
    client.server === null ? '' : pointer('S', client.server),
    0,
    client.tls,
    client.applicationName,
    client.preparedStatements,
    client.id,
    client.pinReason === '' ? 0 : 1,
    client.pinReason,
  ];
}

function clientState(client: ClientSnapshot): string | null {
  switch (client.state) {
    case 'console':
      return 'active';
    case 'active':
      return client.server === null ? 'idle' : 'active';
    case 'waiting':
    case 'waiting_login':
      return 'waiting';
    case 'login':
      return null; // still logging in: PgBouncer lists these only in SHOW SOCKETS
  }
}

export function showClients(view: ConsoleView): ResultSet {
  const rows: Cell[][] = [];
  for (const client of view.clients()) {
    const state = clientState(client);
    if (state !== null) rows.push(clientRow(client, state));
  }
  return { columns: SOCKET_COLUMNS, rows, tag: 'SHOW' };
}

const SERVER_STATE: Record<ServerSnapshot['state'], string> = {
  login: 'new',
  idle: 'idle',
  active: 'active',
  used: 'used',
  tested: 'tested',
};

function serverRow(server: ServerSnapshot): Cell[] {
  return [
    'S',
    server.user,
    server.database,
    'none',
    SERVER_STATE[server.state],
    ...addresses(server),
    timestamp(server.connectTime),
    timestamp(server.lastUsed),
    0,
    0,
    server.closeNeeded ? 1 : 0,
    pointer('S', server.id),
    server.client === null ? '' : pointer('C', server.client),
    server.processId,
    '',
    server.applicationName,
    server.preparedStatements,
    server.id,
    server.pinReason === '' ? 0 : 1,
    server.pinReason,
  ];
}

export function showServers(view: ConsoleView): ResultSet {
  return { columns: SOCKET_COLUMNS, rows: view.servers().map(serverRow), tag: 'SHOW' };
}
