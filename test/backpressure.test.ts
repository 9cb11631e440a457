// Slow peers and the pooler's memory (issue 18 item 4), in transaction mode with a canary querying
// the same pool the whole time. test/copy.test.ts covers a 200 MB COPY TO STDOUT to a reader that
// pauses; here the other shapes:
//  - a 200 MB SELECT result through the extended protocol (DataRows) read at ~1 MB/s for 10 s, then
//    read to the end at full speed: every row arrives, PostgreSQL sat in ClientWrite meanwhile;
//  - a client pushing 200 MB of COPY FROM STDIN into a table whose BEFORE INSERT trigger sleeps
//    (~1 MB/s for the first 10 MB, then full speed): the client can only get ahead of PostgreSQL
//    by the sockets' buffers, and every row lands;
//  - a slow reader that hangs up in the middle of a 200 MB result: its server does not stay stuck
//    in ClientWrite and the pool goes on serving.
// Pooler RSS is sampled every 100 ms throughout and must grow < 64 MB.
import type net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wire } from '../src/testing/wire.js';
import { getPostgres } from './harness/context.js';
import { startCanary, type Canary } from './support/canary.js';
import { bind, describe as describeMessage, execute, parse, query, sync } from './support/extended-protocol.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
const DB = 'backpressure';
const MB = 1024 * 1024;
const RSS_LIMIT = 64 * MB;
const ROWS = 200_000;
const ROW_TEXT = 1000;
/** a DataRow of the 1000-byte text and the one-digit tag: 'D', length, field count, (field length, value) × 2 */
const DATAROW_BYTES = 1 + 4 + 2 + (4 + ROW_TEXT) + (4 + 1);
const BIG_SELECT = `SELECT repeat('x', ${ROW_TEXT}) AS t, $1::int AS tag FROM generate_series(1, ${ROWS})`;

let pooler: PoolerProcess;
let canary: Canary;
let direct: pg.Client;

beforeAll(async () => {
  await postgres.createDatabase(DB);
  // ~1 MB/s: 10 ms of sleep every 10 rows of 1001 bytes, for the first 10 000 rows (10 s); the
  // sequence counts rows PostgreSQL has taken, visible outside the COPY's transaction
  await postgres.psql(
    `CREATE SEQUENCE sink_rows;
     CREATE TABLE sink (t text);
     CREATE FUNCTION slow_sink() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE n bigint := nextval('sink_rows');
       BEGIN
         IF n <= 10000 AND n % 10 = 0 THEN PERFORM pg_sleep(0.01); END IF;
         RETURN NEW;
       END $$;
     CREATE TRIGGER slow_sink BEFORE INSERT ON sink FOR EACH ROW EXECUTE FUNCTION slow_sink();`,
    { database: DB },
  );
  pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 2, log_connections: 0, log_disconnections: 0 },
    databases: { [DB]: `host=${postgres.host} port=${postgres.port} dbname=${DB}` },
  });
  canary = await startCanary(pooler.url(DB));
  direct = new pg.Client({ connectionString: postgres.url(DB) });
  await direct.connect();
});

afterAll(async () => {
  await canary?.stop();
  await direct?.end();
  await pooler?.stop();
  await postgres.psql(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
});

/** samples the pooler's RSS every 100 ms; growth() is the peak over the baseline taken at start */
function rssSampler(): { growth(): number; stop(): number } {
  const baseline = pooler.rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, pooler.rss())), 100);
  return {
    growth: () => peak - baseline,
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, pooler.rss());
      return peak - baseline;
    },
  };
}

/**
 * Counts the messages of a byte stream by their headers without keeping the bytes: the DataRows
 * (each must be DATAROW_BYTES long) and every other message code in order.
 */
class MessageCounter {
  dataRows = 0;
  others: string[] = [];
  badRows = 0;
  bytes = 0;
  private header = Buffer.alloc(5);
  private headerFill = 0;
  private bodyLeft = 0;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - offset);
        this.bodyLeft -= take;
        offset += take;
        continue;
      }
      const take = Math.min(5 - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + take);
      this.headerFill += take;
      offset += take;
      if (this.headerFill < 5) break;
      this.headerFill = 0;
      const code = String.fromCharCode(this.header[0]!);
      const length = this.header.readUInt32BE(1);
      this.bodyLeft = length - 4;
      if (code === 'D') {
        this.dataRows++;
        if (1 + length !== DATAROW_BYTES) this.badRows++;
      } else this.others.push(code);
    }
  }
}

/**
 * Reads `socket` at about `bytesPerSecond` for `seconds` (pausing it whenever it is ahead), then
 * leaves it paused. Returns when the time is up.
 */
async function readSlowly(socket: net.Socket, counter: MessageCounter, bytesPerSecond: number, seconds: number): Promise<void> {
  const start = Date.now();
  let resumeTimer: NodeJS.Timeout | undefined;
  const onData = (chunk: Buffer) => {
    counter.feed(chunk);
    const ahead = counter.bytes - ((Date.now() - start) / 1000) * bytesPerSecond;
    if (ahead > 0) {
      socket.pause();
      resumeTimer = setTimeout(() => socket.resume(), (ahead / bytesPerSecond) * 1000);
    }
  };
  socket.on('data', onData);
  socket.resume();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearTimeout(resumeTimer);
  socket.pause();
  socket.off('data', onData);
}

/** a raw client logged in through the pooler whose socket the test reads itself */
async function rawSocket(): Promise<net.Socket> {
  const client = await RawClient.login(pooler.port, DB);
  client.socket.removeAllListeners('data');
  client.socket.pause();
  return client.socket;
}

/** what PostgreSQL's backend running `like` waits on, or null when no backend runs it */
async function backendWait(like: string): Promise<{ state: string; wait_event: string | null } | null> {
  const { rows } = await direct.query(
    "SELECT state, wait_event FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE $2 AND state <> 'idle'",
    [DB, like],
  );
  return rows[0] ?? null;
}

describe('slow peers keep the pooler memory bounded (transaction mode, canary on the pool)', () => {
  it('a 200 MB extended-protocol SELECT read at 1 MB/s for 10 s, then to the end', async () => {
    const socket = await rawSocket();
    const counter = new MessageCounter();
    const rss = rssSampler();
    socket.write(Buffer.concat([parse('', BIG_SELECT, [23]), bind('', '', ['7']), describeMessage('P', ''), execute('', 0), sync()]));

    await readSlowly(socket, counter, 1 * MB, 10);
    const slowBytes = counter.bytes;
    // PostgreSQL is held by the pooler's backpressure: its backend waits to write to the pooler
    const waiting = await waitUntil(() => backendWait('%generate_series(1, 200000)%'), (b) => b?.wait_event === 'ClientWrite', 'the backend waiting in ClientWrite', 5000);
    const slowGrowth = rss.growth();

    // now read the rest as fast as we can and check every row arrived
    const finished = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        counter.feed(chunk);
        if (counter.others.at(-1) === 'Z') resolve();
      });
      socket.once('close', () => reject(new Error(`connection closed after ${counter.dataRows} rows`)));
    });
    socket.resume();
    await finished;
    const growth = rss.stop();
    socket.destroy();
    console.log(
      `extended SELECT 200 MB: ${(slowBytes / MB).toFixed(1)} MB read in the 10 s slow phase (backend ${waiting?.wait_event}); ` +
        `pooler RSS growth ${(slowGrowth / MB).toFixed(1)} MB slow, ${(growth / MB).toFixed(1)} MB overall; canary ${canary.queries} queries`,
    );
    expect(slowBytes).toBeLessThan(16 * MB);
    expect(counter.others).toEqual(['1', '2', 'T', 'C', 'Z']);
    expect(counter.dataRows).toBe(ROWS);
    expect(counter.badRows).toBe(0);
    expect(growth).toBeLessThan(RSS_LIMIT);
    expect(canary.errors).toEqual([]);
  }, 120_000);

  it('200 MB of COPY FROM STDIN into a server that reads at ~1 MB/s for its first 10 MB', async () => {
    await direct.query("SELECT setval('sink_rows', 1, false)");
    await direct.query('TRUNCATE sink');
    const socket = await rawSocket();
    const replies = new MessageCounter();
    socket.on('data', (chunk: Buffer) => replies.feed(chunk));
    socket.resume();
    const rss = rssSampler();
    socket.write(query('COPY sink FROM STDIN'));
    await waitUntil(async () => replies.others, (codes) => codes.includes('G') || codes.includes('E'), 'CopyInResponse');
    expect(replies.others).toEqual(['G']);

    // one CopyData of 64 rows, sent 3125 times: 200 000 rows, 200.2 MB
    const rowsPerMessage = 64;
    const copyData = wire().bytes(Buffer.from(`${'y'.repeat(ROW_TEXT)}\n`.repeat(rowsPerMessage))).message('d');
    const messages = ROWS / rowsPerMessage;
    let written = 0;
    /** client bytes written minus the bytes PostgreSQL has turned into rows: what sits in between */
    let maxInFlight = 0;
    let writtenAt5s = 0;
    const started = Date.now();
    const watch = setInterval(() => {
      void direct.query('SELECT last_value, is_called FROM sink_rows').then(({ rows }) => {
        const taken = rows[0].is_called ? Number(rows[0].last_value) : 0;
        maxInFlight = Math.max(maxInFlight, written - taken * (ROW_TEXT + 1));
      });
      if (writtenAt5s === 0 && Date.now() - started >= 5000) writtenAt5s = written;
    }, 250);
    try {
      for (let i = 0; i < messages; i++) {
        written += copyData.length - 5;
        if (!socket.write(copyData)) await new Promise((resolve) => socket.once('drain', resolve));
      }
      socket.write(wire().message('c'));
      await waitUntil(async () => replies.others, (codes) => codes.includes('Z'), 'the end of the COPY', 60_000);
    } finally {
      clearInterval(watch);
    }
    const seconds = (Date.now() - started) / 1000;
    const growth = rss.stop();
    socket.destroy();
    console.log(
      `COPY FROM STDIN 200 MB in ${seconds.toFixed(1)} s: ${(writtenAt5s / MB).toFixed(1)} MB written after 5 s, ` +
        `at most ${(maxInFlight / MB).toFixed(1)} MB between client and PostgreSQL, pooler RSS growth ${(growth / MB).toFixed(1)} MB; canary ${canary.queries} queries`,
    );
    expect(replies.others).toEqual(['G', 'C', 'Z']);
    const { rows } = await direct.query('SELECT count(*)::int AS n, sum(length(t))::bigint AS bytes FROM sink');
    expect(rows[0].n).toBe(ROWS);
    expect(Number(rows[0].bytes)).toBe(ROWS * ROW_TEXT);
    // at ~1 MB/s for the first 10 s, the client cannot have got far: the pooler did not take it all
    expect(writtenAt5s).toBeLessThan(32 * MB);
    expect(maxInFlight).toBeLessThan(RSS_LIMIT);
    expect(growth).toBeLessThan(RSS_LIMIT);
    expect(canary.errors).toEqual([]);
    await direct.query('TRUNCATE sink');
  }, 180_000);

  it('a slow reader that hangs up in the middle of a 200 MB result frees its server', async () => {
    const socket = await rawSocket();
    const counter = new MessageCounter();
    const rss = rssSampler();
    socket.write(Buffer.concat([parse('', BIG_SELECT.replace('generate_series(1, ', 'generate_series(2, '), [23]), bind('', '', ['8']), execute('', 0), sync()]));
    await readSlowly(socket, counter, 1 * MB, 3);
    await waitUntil(() => backendWait('%generate_series(2, 200000)%'), (b) => b?.wait_event === 'ClientWrite', 'the backend waiting in ClientWrite', 5000);
    socket.destroy();
    // the pooler must not leave PostgreSQL blocked writing a result nobody reads
    await waitUntil(() => backendWait('%generate_series(2, 200000)%'), (b) => b === null, 'the abandoned query to end', 10_000);
    const growth = rss.stop();
    // the pool still serves: a new client gets a server while the canary goes on
    const client = new pg.Client({ connectionString: pooler.url(DB) });
    await client.connect();
    const { rows } = await client.query('SELECT 41 + 1 AS n');
    await client.end();
    const before = canary.queries;
    await waitUntil(async () => canary.queries, (n) => n > before + 5, 'the canary to go on');
    console.log(`slow reader hung up after ${(counter.bytes / MB).toFixed(1)} MB: pooler RSS growth ${(growth / MB).toFixed(1)} MB; canary ${canary.queries} queries`);
    expect(rows[0].n).toBe(42);
    expect(counter.badRows).toBe(0);
    expect(growth).toBeLessThan(RSS_LIMIT);
    expect(canary.errors).toEqual([]);
  }, 120_000);
});
