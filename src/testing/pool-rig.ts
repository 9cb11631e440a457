// Test-only: one real Pool with real ClientConnections and PoolServers whose sockets are fakes the
// test drives byte by byte, so Link and Pool rules can be checked at every split offset with the
// exact bytes each side saw, and no network or PostgreSQL in between.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import pino from 'pino';
import { ClientConnection, type ClientContext } from '../client/client-connection.js';
import { emptyDatabase } from '../config/databases.js';
import { defaultSettings } from '../config/settings.js';
import type { Config, LoadBalance, PoolMode, Settings, TargetSessionAttrs } from '../config/types.js';
import { clock } from '../clock.js';
import { MonitoredHost } from '../failover/monitored-host.js';
import type { ServerAddress, Topology } from '../failover/topology.js';
import { Pool, type PoolContext } from '../pool/pool.js';
import { DatabaseStats } from '../stats/database-stats.js';
import { wire } from './wire.js';

/** a socket that records what is written to it and is fed by the test */
export class FakeSocket extends EventEmitter {
  private written: Buffer[] = [];
  destroyed = false;
  writable = true;
  writableNeedDrain = false;
  writableLength = 0;
  bytesWritten = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  localAddress = '127.0.0.1';
  localPort = 6432;
  private paused = false;

  write(data: Buffer | string): boolean {
    const bytes = Buffer.from(data);
    this.written.push(bytes);
    this.bytesWritten += bytes.length;
    return true;
  }
  end(data?: Buffer): this {
    if (data !== undefined) this.write(data);
    this.writable = false;
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    this.emit('close');
    return this;
  }
  destroySoon(): void {
    this.destroy();
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  isPaused(): boolean {
    return this.paused;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  /** everything written since the last take */
  take(): Buffer {
    const all = Buffer.concat(this.written);
    this.written = [];
    return all;
  }
  /** bytes arriving from the peer, as one 'data' event */
  feed(data: Buffer): void {
    this.emit('data', data);
  }
}

/** what a server says at login: AuthenticationOk, a few ParameterStatus, BackendKeyData, ReadyForQuery */
const SERVER_LOGIN = Buffer.concat([
  wire().int32(0).message('R'),
  wire().cstring('client_encoding').cstring('UTF8').message('S'),
  wire().cstring('server_version').cstring('15.0').message('S'),
  wire().int32(4242).int32(7).message('K'),
  wire().bytes('I').message('Z'),
]);

/** server logins as a standby says it (PostgreSQL 14+ reports in_hot_standby at login) */
const standbyLogin = (standby: boolean) =>
  Buffer.concat([SERVER_LOGIN.subarray(0, -6), wire().cstring('in_hot_standby').cstring(standby ? 'on' : 'off').message('S'), SERVER_LOGIN.subarray(-6)]);

/** a database entry with several hosts (a libpq host list), each a fake server */
export interface RigHosts {
  hosts: { port: number; standby: boolean; refuses?: boolean }[];
  target_session_attrs: TargetSessionAttrs;
  load_balance: LoadBalance;
  weight?: number[];
  pool_size?: number;
  /** the host monitor's object per host (null: not monitored yet) */
  monitored?: (address: ServerAddress) => MonitoredHost | null;
  /** a Patroni entry: the first host is the leader, `replicas` what the last poll listed (the test may replace it) */
  patroni?: boolean;
}

export interface PoolRig {
  pool: Pool;
  settings: Settings;
  /** server sockets in the order the pool opened them */
  servers: FakeSocket[];
  /** the port each of `servers` was opened to */
  serverPorts: number[];
  /** where the pool's servers are (a plain object the test may change) */
  topology: Topology;
  /** a logged-in client (its login bytes already taken) */
  connect(): { client: ClientConnection; socket: FakeSocket };
}

export function poolRig(mode: PoolMode, overrides: Partial<Settings> = {}, several: RigHosts | null = null): PoolRig {
  const settings: Settings = { ...defaultSettings(), auth_type: 'any', pool_mode: mode, max_prepared_statements: 0, ...overrides };
  const database = { ...emptyDatabase('db'), pool_size: several?.pool_size ?? 1 };
  if (several !== null) {
    database.hosts = several.hosts.map((h) => ({ host: '127.0.0.1', port: h.port }));
    database.target_session_attrs = several.target_session_attrs;
    database.load_balance = several.load_balance;
    database.weight = several.weight ?? [];
  }
  const config = { settings, users: new Map(), databases: new Map([['db', database]]) } as unknown as Config;
  const log = pino({ level: 'silent' });
  const servers: FakeSocket[] = [];
  const serverPorts: number[] = [];
  const topology = (
    several === null
      ? { kind: 'static', current: { host: '127.0.0.1', port: 5432 } }
      : {
          kind: several.patroni === true ? 'patroni' : 'multi-host',
          current: { ...database.hosts[0]! },
          replicas: several.hosts.filter((h) => h.standby).map((h) => ({ host: '127.0.0.1', port: h.port })),
          database,
          reject: () => undefined,
          accepts: () => true,
          confirmed: () => undefined,
          recheck: () => undefined,
        }
  ) as unknown as Topology;
  const poolContext: PoolContext = {
    config,
    log,
    serverCountForDatabase: () => pool.serverCount,
    serverCountForUser: () => pool.serverCount,
    onServerSlotFreed: () => undefined,
    serverTls: null,
    draining: false,
    isPaused: () => false,
    evictIdleServer: () => false,
    topologyFor: () => topology,
    monitoredHost: (_database, address) => several?.monitored?.(address) ?? null,
    beingCanceled: () => false,
    cancel: () => undefined,
    connectServer: (target) => {
      const socket = new FakeSocket();
      const host = several?.hosts.find((h) => h.port === target.port);
      servers.push(socket);
      serverPorts.push(target.port);
      // the server answers the startup packet with a whole login, once the pool has written it
      setImmediate(() => {
        if (host?.refuses) return socket.emit('error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        socket.emit('connect');
        socket.take();
        socket.feed(host === undefined ? SERVER_LOGIN : standbyLogin(host.standby));
      });
      return socket as unknown as Socket;
    },
  };
  const pool = new Pool(database, 'app', null, poolContext, new DatabaseStats('db'));
  const clientContext = {
    settings,
    log,
    chooseAuth: () => ({ method: 'any', certificateMap: null }),
    lookupSecret: () => null,
    querySecret: () => undefined,
    rememberQueriedSecret: () => undefined,
    findDatabase: () => database,
    openConsole: () => {
      throw new Error('no console in the rig');
    },
    poolFor: () => pool,
    registerCancelKey: () => undefined,
    clientTls: null,
    forwardCancel: () => undefined,
    onClientClosed: () => undefined,
  } satisfies ClientContext;
  return {
    pool,
    settings,
    servers,
    serverPorts,
    topology,
    connect() {
      const socket = new FakeSocket();
      const client = new ClientConnection(socket as unknown as Socket, clientContext);
      socket.feed(startupPacket({ user: 'app', database: 'db' }));
      return { client, socket };
    },
  };
}

function startupPacket(parameters: Record<string, string>): Buffer {
  const body = wire().int32(196608);
  for (const [key, value] of Object.entries(parameters)) body.cstring(key).cstring(value);
  return body.bytes(Buffer.from([0])).untyped();
}

/** let the rig's setImmediate callbacks (server logins) run */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** settle often enough for a login, a dispatch and the replies they start */
export async function settleAll(): Promise<void> {
  for (let i = 0; i < 6; i++) await settle();
}

/** a logged-in client of the rig, its login bytes taken */
export async function loggedInClient(rig: PoolRig): Promise<FakeSocket> {
  const { socket } = rig.connect();
  await settleAll();
  socket.take();
  return socket;
}

/** a MonitoredHost per port that bans after 3 failures and checks nothing by itself */
export function monitoredHosts(ports: readonly number[]): Map<number, MonitoredHost> {
  const monitored = new Map<number, MonitoredHost>();
  for (const port of ports) {
    const policy = { banAfterFailures: 3, banTime: 60_000, checkPeriod: 0, maxLag: { bytes: 0, ms: 0 } };
    monitored.set(port, new MonitoredHost({ host: '127.0.0.1', port }, policy, () => clock.now, () => undefined));
  }
  return monitored;
}
