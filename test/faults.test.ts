// Faults between the pooler and PostgreSQL, made by a proxy (support/fault-proxy.ts): a server that
// goes silent, one that stops reading, a reset inside a result, a restart under load, and
// transaction_timeout and TCP keepalive as pooler.ini sets them. A canary on a direct pool watches.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startCanary, type Canary } from './support/canary.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { backendPid, quietClient } from './support/pg-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
const DATABASE = 'faults';
const TRANSACTION_TIMEOUT_MS = 2000;
const TCP_USER_TIMEOUT_MS = 1000;
const KEEPIDLE_S = 77;
/** the janitor runs every 333 ms: a timeout fires within two ticks of falling due */
const TICK_SLACK_MS = 700;
/** 20 MB in 20 000 DataRows */
const BIG_RESULT = "SELECT repeat('x', 1000) FROM generate_series(1, 20000)";

let pooler: PoolerProcess;
let canary: Canary;
const proxies: Record<'hole' | 'stall' | 'row' | 'load' | 'odd', FaultProxy> = {} as never;

beforeAll(async () => {
  await postgres.createDatabase(DATABASE);
  const direct = `host=${postgres.host} port=${postgres.port} dbname=${DATABASE}`;
  for (const name of ['hole', 'stall', 'row', 'load', 'odd'] as const) proxies[name] = await startFaultProxy(postgres);
  const via = (name: keyof typeof proxies, poolSize: number) => `host=127.0.0.1 port=${proxies[name].port} dbname=${DATABASE} pool_size=${poolSize}`;
  pooler = await startPooler({
    settings: {
      auth_type: 'trust',
      pool_mode: 'transaction',
      // the proxy follows plaintext messages
      server_tls_sslmode: 'disable',
      transaction_timeout: TRANSACTION_TIMEOUT_MS / 1000,
      tcp_user_timeout: TCP_USER_TIMEOUT_MS,
      tcp_keepidle: KEEPIDLE_S,
    },
    databases: {
      hole: via('hole', 2),
      stall: via('stall', 1),
      row: via('row', 1),
      load: via('load', 4),
      odd: via('odd', 1),
      tx: `${direct} pool_size=1`,
      tx2: `${direct} pool_size=1`,
      txsession: `${direct} pool_size=1 pool_mode=session`,
      canary: direct,
    },
  });
  canary = await startCanary(pooler.url('canary'));
});

afterAll(async () => {
  await canary?.stop();
  await pooler?.stop();
  for (const proxy of Object.values(proxies)) await proxy?.close();
});

const connect = (database: string): Promise<pg.Client> => quietClient(pooler.url(database));

/** the query's error and when it came, or a failure if it has not come within `withinMs` */
async function failure(query: Promise<unknown>, withinMs: number): Promise<{ error: pg.DatabaseError; at: number }> {
  const outcome = await Promise.race([
    query.then(
      () => 'answered' as const,
      (error: pg.DatabaseError) => ({ error, at: Date.now() }),
    ),
    new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), withinMs)),
  ]);
  if (typeof outcome === 'string') throw new Error(`expected an error within ${withinMs} ms, but the query was ${outcome}`);
  return outcome;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** seconds until the first keepalive probe on the pooler's sockets matching an `ss` filter */
function keepaliveTimers(filter: string): number[] {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', filter]).toString();
  return [...out.matchAll(/timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?/g)].map(
    ([, min, sec, ms]) => Number(min ?? 0) * 60 + Number(sec ?? 0) + Number(ms ?? 0) / 1000,
  );
}

describe('TCP keepalive', () => {
  it('applies tcp_keepidle to server and client sockets', async () => {
    const client = await connect('odd');
    await client.query('SELECT 1');
    const clientPort = (client as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
    // until the last reply is acknowledged the retransmit timer shows instead of keepalive's
    await sleep(300);
    const toServer = keepaliveTimers(`( dport = :${proxies.odd.port} )`);
    const toClient = keepaliveTimers(`( sport = :${pooler.port} and dport = :${clientPort} )`);
    await client.end();
    expect(toServer).toHaveLength(1);
    expect(toClient).toHaveLength(1);
    // the OS default would be 7200 s
    for (const seconds of [...toServer, ...toClient]) {
      expect(seconds).toBeLessThanOrEqual(KEEPIDLE_S);
      expect(seconds).toBeGreaterThan(KEEPIDLE_S - 30);
    }
  });
});

describe('a server that goes silent', () => {
  it('is ended by transaction_timeout, with 25P04 naming the setting; the other server of the pool and other pools go on', async () => {
    const victim = await connect('hole');
    const neighbour = await connect('hole');
    const began = Date.now();
    await victim.query('BEGIN');
    const pid = await backendPid(victim);
    const connection = proxies.hole.connectionFor(pid)!;
    expect(connection).toBeDefined();
    connection.set('up', { kind: 'blackhole' });
    connection.set('down', { kind: 'blackhole' });
    const silenced = Date.now();
    const lost = failure(victim.query('SELECT 1'), TRANSACTION_TIMEOUT_MS + 3000);
    // the victim's server is busy, so the neighbour has the pool's other one all along
    const neighbourPids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      neighbourPids.add(await backendPid(neighbour));
      await sleep(100);
    }
    const { error, at } = await lost;
    expect(error).toMatchObject({ code: '25P04', severity: 'FATAL', message: expect.stringContaining('transaction_timeout') });
    expect(at - began).toBeGreaterThanOrEqual(TRANSACTION_TIMEOUT_MS);
    expect(at - began).toBeLessThan(TRANSACTION_TIMEOUT_MS + TICK_SLACK_MS);
    console.log(`silent server: client told after ${at - silenced} ms of silence, ${at - began} ms into its transaction`);
    expect([...neighbourPids]).toEqual([expect.any(Number)]);
    expect(neighbourPids.has(pid)).toBe(false);
    // the pool has its slot back: a new client gets a working server
    const next = await connect('hole');
    expect(await backendPid(next)).not.toBe(pid);
    await Promise.all([next.end(), neighbour.end()]);
    await victim.end().catch(() => undefined);
    expect(canary.errors).toEqual([]);
  });

  it('is ended by tcp_user_timeout when it stops taking the request, with 08006 naming the setting', async () => {
    const client = await connect('stall');
    const pid = await backendPid(client);
    proxies.stall.connectionFor(pid)!.set('up', { kind: 'stall' });
    // more than the kernel buffers on both sides of the proxy hold
    const big = `SELECT length('${'x'.repeat(32 * 1024 * 1024)}')`;
    const sent = Date.now();
    const { error, at } = await failure(client.query(big), TCP_USER_TIMEOUT_MS + 4000);
    expect(error).toMatchObject({ code: '08006', message: expect.stringContaining('tcp_user_timeout') });
    console.log(`stalled server: client told ${at - sent} ms after sending (${error.message})`);
    expect(at - sent).toBeGreaterThanOrEqual(TCP_USER_TIMEOUT_MS);
    // the stall is timed from the first tick that sees it, so up to a tick more, and the buffers fill first
    expect(at - sent).toBeLessThan(TCP_USER_TIMEOUT_MS + TICK_SLACK_MS + 333 + 500);
    await client.end().catch(() => undefined);
    const next = await connect('stall');
    expect(await backendPid(next)).not.toBe(pid);
    await next.end();
    expect(canary.errors).toEqual([]);
  });
});

describe('a server reset inside a result', () => {
  it('fails only that client and frees its slot: with pool_size = 1 the next client works', async () => {
    const client = await connect('row');
    const pid = await backendPid(client);
    proxies.row.connectionFor(pid)!.set('down', { kind: 'reset-in-datarow', after: 2 * 1024 * 1024 });
    const { error } = await failure(client.query(BIG_RESULT), 10_000);
    // libpq says "server closed the connection unexpectedly"; node-postgres says this
    expect(error.message).toBe('Connection terminated unexpectedly');
    await client.end().catch(() => undefined);
    const next = await connect('row');
    const started = Date.now();
    const { rows } = await next.query(`SELECT count(*)::int AS n FROM (${BIG_RESULT}) AS big`);
    expect(rows[0].n).toBe(20_000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await backendPid(next)).not.toBe(pid);
    await next.end();
    expect(canary.errors).toEqual([]);
  });

  it('sends nothing after the half DataRow: no ErrorResponse the client would read as the rest of it', async () => {
    const raw = await RawClient.login(pooler.port, 'row');
    raw.send(wire().cstring('SELECT pg_backend_pid()').message('Q'));
    const dataRow = (await raw.readUntilReady()).find((m) => m.code === 'D')!;
    const pid = Number(dataRow.body.toString('latin1', 6));
    proxies.row.connectionFor(pid)!.set('down', { kind: 'reset-in-datarow', after: 1024 * 1024 });
    const received: Buffer[] = [];
    raw.socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closed = new Promise((resolve) => raw.socket.once('close', resolve));
    raw.send(wire().cstring(BIG_RESULT).message('Q'));
    await closed;
    const bytes = Buffer.concat(received);
    let at = 0;
    while (at + 5 <= bytes.length && at + 1 + bytes.readUInt32BE(at + 1) <= bytes.length) {
      expect(String.fromCharCode(bytes[at]!)).toMatch(/[TD]/);
      at += 1 + bytes.readUInt32BE(at + 1);
    }
    // what is left is the DataRow the proxy cut after its type byte and half its length, and no more
    expect(String.fromCharCode(bytes[at]!)).toBe('D');
    expect(bytes.length - at).toBe(1 + Math.floor(bytes.readUInt32BE(at + 1) / 2));
    expect(at).toBeGreaterThan(1024 * 1024);
  });
});

describe('odd but working networks', () => {
  it('answers correctly through latency and a 1-byte-per-ms trickle, and reports a half-closed server', async () => {
    const client = await connect('odd');
    const pid = await backendPid(client);
    const connection = proxies.odd.connectionFor(pid)!;
    connection.set('up', { kind: 'latency', ms: 50 });
    connection.set('down', { kind: 'trickle', bytes: 1, everyMs: 1 });
    const started = Date.now();
    const { rows } = await client.query("SELECT string_agg(i::text, ',') AS s FROM generate_series(1, 40) AS i");
    expect(rows[0].s).toBe(Array.from({ length: 40 }, (_, i) => i + 1).join(','));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 + 100);
    connection.set('down', { kind: 'half-close' });
    const { error } = await failure(client.query('SELECT 1'), 3000);
    expect(error).toMatchObject({ code: '08006' });
    await client.end().catch(() => undefined);
    const next = await connect('odd');
    expect(await backendPid(next)).not.toBe(pid);
    await next.end();
  });
});

describe('PostgreSQL restarting under load', () => {
  it('recovers without a pooler restart; errors only for transactions in flight, at most one per server connection reset', async () => {
    const WORKERS = 12;
    const ROUNDS = 3;
    const proxy = proxies.load;
    const errors: { worker: number; code?: string; message: string }[] = [];
    const done = new Array<number>(WORKERS).fill(0);
    /** workers between sending BEGIN and getting COMMIT's answer (queued for a server or not) */
    const inTransaction = new Set<number>();
    /** who was in a transaction at the last reset */
    let inFlight = new Set<number>();
    const outsiders: number[] = [];
    let stopping = false;
    const worker = async (index: number) => {
      while (!stopping) {
        const client = new pg.Client({ connectionString: pooler.url('load') });
        // an error that comes between two queries reaches the client here, and the next query fails as "not queryable"
        let between: pg.DatabaseError | null = null;
        client.on('error', (error) => (between = error as pg.DatabaseError));
        try {
          await client.connect();
          while (!stopping) {
            inTransaction.add(index);
            await client.query('BEGIN');
            await client.query('SELECT pg_sleep(0.01)');
            await client.query('COMMIT');
            inTransaction.delete(index);
            done[index]!++;
          }
        } catch (error) {
          const { code, message } = between ?? (error as pg.DatabaseError);
          errors.push({ worker: index, code, message });
          if (!inFlight.has(index)) outsiders.push(index);
          inTransaction.delete(index);
        }
        await client.end().catch(() => undefined);
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, i) => worker(i));
    let reset = 0;
    let inFlightTotal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // a full pool and no login under way, so what is cut is transactions, not logins
      await waitUntil(async () => proxy.connections.filter((c) => c.pid !== null).length, (n) => n === 4, 'four logged-in servers');
      await sleep(300);
      inFlight = new Set(inTransaction);
      inFlightTotal += inFlight.size;
      reset += proxy.resetAll();
    }
    const before = [...done];
    const acceptedAtLastReset = proxy.accepted;
    await sleep(1000);
    stopping = true;
    await Promise.all(workers);
    console.log(
      `restarts: ${ROUNDS}, server connections reset: ${reset}, transactions in flight then: ${inFlightTotal}, client errors: ${errors.length}, transactions done: ${done.reduce((a, b) => a + b)}`,
    );
    expect(pooler.child.exitCode).toBeNull();
    // after the last reset the pool logged in four servers afresh, and kept them
    expect(proxy.accepted - acceptedAtLastReset).toBe(4);
    expect(proxy.connections.filter((c) => c.pid !== null)).toHaveLength(4);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThanOrEqual(reset);
    expect(outsiders).toEqual([]);
    for (const error of errors) expect(error.code).toBe('08006');
    // every worker got through transactions after the last restart
    done.forEach((count, i) => expect(count).toBeGreaterThan(before[i]!));
    expect(canary.errors).toEqual([]);
  });
});

describe('transaction_timeout', () => {
  it('ends a transaction open longer than the limit, running or idle, and the client with it (FATAL 25P04)', async () => {
    const slow = await connect('tx');
    // When the limit strikes while the transaction is idle, between two of the loop's queries,
    // node-postgres gets the FATAL with no query to give it to: it emits it as an 'error' event and
    // fails the next query as "not queryable". The FATAL is what the user sees either way.
    let idleFatal: pg.DatabaseError | null = null;
    slow.on('error', (error) => (idleFatal = error as pg.DatabaseError));
    const pid = await backendPid(slow);
    const began = Date.now();
    await slow.query('BEGIN');
    const steps = (async () => {
      for (;;) await slow.query('SELECT pg_sleep(0.3)');
    })();
    const { error: queryError, at } = await failure(steps, TRANSACTION_TIMEOUT_MS + 2000);
    const error = idleFatal ?? queryError;
    expect(error).toMatchObject({ code: '25P04', severity: 'FATAL', message: expect.stringContaining('transaction_timeout') });
    expect(at - began).toBeGreaterThanOrEqual(TRANSACTION_TIMEOUT_MS);
    expect(at - began).toBeLessThan(TRANSACTION_TIMEOUT_MS + TICK_SLACK_MS);
    console.log(`transaction_timeout ${TRANSACTION_TIMEOUT_MS} ms: ended after ${at - began} ms`);
    await expect(slow.query('SELECT 1')).rejects.toThrow();
    await waitUntil(() => postgres.psql(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${pid}`), (n) => n.trim() === '0', 'the server to be closed');
    // pool_size = 1: the slot is free again
    const next = await connect('tx');
    expect(await backendPid(next)).not.toBe(pid);
    await next.end();
  });

  it('leaves short transactions and time between them alone, in transaction and session mode', async () => {
    const transactionMode = await connect('tx2');
    const sessionMode = await connect('txsession');
    const started = Date.now();
    while (Date.now() - started < TRANSACTION_TIMEOUT_MS * 1.5) {
      for (const client of [transactionMode, sessionMode]) {
        await client.query('BEGIN');
        await client.query('SELECT pg_sleep(0.05)');
        await client.query('COMMIT');
        await client.query('SELECT pg_sleep(0.05)');
      }
    }
    // a session idles between transactions for longer than the limit
    await sleep(TRANSACTION_TIMEOUT_MS + TICK_SLACK_MS);
    expect((await sessionMode.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect((await transactionMode.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    // and a session's long transaction is ended like any other
    await sessionMode.query('BEGIN');
    const { error } = await failure(sessionMode.query('SELECT pg_sleep(5)'), TRANSACTION_TIMEOUT_MS + 2000);
    expect(error).toMatchObject({ code: '25P04' });
    await Promise.all([transactionMode.end(), sessionMode.end().catch(() => undefined)]);
  });
});
