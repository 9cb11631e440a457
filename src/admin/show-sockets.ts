// SHOW CLIENTS and SHOW SERVERS: one row per connection with PgBouncer 1.25.2's 21 columns
// (socket_header in admin.c), ids usable with KILL_CLIENT.
import type { Socket } from 'node:net';
import type { ClientConnection } from '../client/client-connection.js';
import type { Pool } from '../pool/pool.js';
import type { Pooler } from '../pooler.js';
import type { ServerConnection } from '../server/server-connection.js';
import { splitSeconds, timestamp } from './format.js';
import { int4, text, type Cell, type ResultSet } from './result-set.js';
import { clock } from '../clock.js';

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
];

/** PgBouncer prints pointers here; ids in hex keep the column's role of a unique handle */
function pointer(kind: 'C' | 'S', id: number): string {
  return `0x${kind === 'C' ? 'c' : '5'}${id.toString(16).padStart(11, '0')}`;
}

function addresses(socket: Socket): [string, number, string, number] {
  const unix = socket.remoteAddress === undefined;
  return [
    unix ? 'unix' : socket.remoteAddress!,
    socket.remotePort ?? 0,
    unix ? 'unix' : (socket.localAddress ?? ''),
    socket.localPort ?? 0,
  ];
}

function clientRow(client: ClientConnection, state: string): Cell[] {
  const waiting = client.state === 'waiting' || client.state === 'waiting_login';
  const [wait, waitUs] = splitSeconds(waiting ? clock.refresh() - client.waitStart : 0);
  return [
    'C',
    client.startup?.user ?? '(nouser)',
    client.startup?.database ?? '(nodb)',
    'none',
    state,
    ...addresses(client.socket),
    timestamp(client.connectTime),
    timestamp(client.lastActivity),
    wait,
    waitUs,
    0,
    pointer('C', client.id),
    client.server === null ? '' : pointer('S', client.server.id),
    0,
    client.tlsDescription,
    client.parameters.get('application_name') ?? '',
    client.preparedStatementCount,
    client.id,
  ];
}

function clientState(client: ClientConnection): string | null {
  if (client.isConsole) return 'active';
  switch (client.state) {
    case 'active':
      return client.server === null ? 'idle' : 'active';
    case 'waiting':
    case 'waiting_login':
      return 'waiting';
    default:
      return null; // still logging in: PgBouncer lists these only in SHOW SOCKETS
  }
}

export function showClients(pooler: Pooler): ResultSet {
  const rows: Cell[][] = [];
  for (const client of pooler.clients) {
    const state = clientState(client);
    if (state !== null) rows.push(clientRow(client, state));
  }
  return { columns: SOCKET_COLUMNS, rows, tag: 'SHOW' };
}

const SERVER_STATE: Record<ServerConnection['state'], string> = {
  login: 'new',
  idle: 'idle',
  active: 'active',
  used: 'used',
  tested: 'tested',
};

function serverRow(pool: Pool, server: ServerConnection): Cell[] {
  const client = server.peer as ClientConnection | null;
  return [
    'S',
    pool.user,
    pool.database.name,
    'none',
    SERVER_STATE[server.state],
    ...addresses(server.socket),
    timestamp(server.connectTime),
    timestamp(server.lastUsed),
    0,
    0,
    server.closeNeeded ? 1 : 0,
    pointer('S', server.id),
    client === null ? '' : pointer('C', client.id),
    server.processId,
    '',
    server.parameters.get('application_name') ?? '',
    server.replyFilter?.statementCount ?? 0,
    server.id,
  ];
}

export function showServers(pooler: Pooler): ResultSet {
  const rows: Cell[][] = [];
  for (const pool of pooler.pools.values()) {
    for (const list of [pool.activeServers, pool.idleServers, pool.usedServers, pool.testedServers, pool.loginServers]) {
      for (const server of list.toArray()) rows.push(serverRow(pool, server));
    }
  }
  return { columns: SOCKET_COLUMNS, rows, tag: 'SHOW' };
}
