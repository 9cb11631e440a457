// The Link and the Pool's release rules with fake sockets: each exchange is fed whole and split at
// every byte offset on the client side and on the server side, and must give the exact bytes each
// side expects and the server state (still linked, back in the pool, or closed) a user would see.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClassifier } from '../sql/index.js';
import type { PoolMode, Settings } from '../config/types.js';
import { poolRig, settle, type FakeSocket, type PoolRig } from '../testing/pool-rig.js';
import { wire } from '../testing/wire.js';

// --- frontend messages
const Query = (sql: string) => wire().cstring(sql).message('Q');
const Parse = (name: string, sql: string) => wire().cstring(name).cstring(sql).int16(0).message('P');
const Bind = (portal = '', statement = '') => wire().cstring(portal).cstring(statement).int16(0).int16(0).int16(0).message('B');
const DescribePortal = wire().bytes('P').cstring('').message('D');
const Execute = (rows = 0) => wire().cstring('').int32(rows).message('E');
const Sync = wire().message('S');
const Flush = wire().message('H');
const CopyData = (text: string) => wire().bytes(text).message('d');
const CopyDone = wire().message('c');
const CopyFail = wire().cstring('client gave up').message('f');
const FunctionCall = wire().int32(1598).int16(0).int16(0).int16(0).message('F');

// --- backend messages
const Ready = (status: 'I' | 'T' | 'E') => wire().bytes(status).message('Z');
const Complete = (tag: string) => wire().cstring(tag).message('C');
const Row = (value: string) => wire().int16(1).int32(value.length).bytes(value).message('D');
const Columns = wire().int16(1).cstring('x').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).message('T');
const ParseComplete = wire().message('1');
const BindComplete = wire().message('2');
const NoData = wire().message('n');
const Suspended = wire().message('s');
const EmptyQuery = wire().message('I');
const CopyIn = wire().bytes(Buffer.from([0])).int16(1).int16(0).message('G');
const CopyOut = wire().bytes(Buffer.from([0])).int16(1).int16(0).message('H');
const ServerCopyData = wire().bytes('1\n').message('d');
const ServerCopyDone = wire().message('c');
const FunctionResult = wire().int32(-1).message('V');
const Failure = (sqlstate: string) => wire().bytes('S').cstring('ERROR').bytes('C').cstring(sqlstate).bytes('M').cstring('it failed').bytes(Buffer.from([0])).message('E');

const all = (...parts: Buffer[]) => Buffer.concat(parts);

beforeAll(() => loadClassifier());

/** the message codes in a run of bytes, as one string */
function codes(bytes: Buffer): string {
  let out = '';
  for (let pos = 0; pos < bytes.length; pos += 1 + bytes.readUInt32BE(pos + 1)) out += String.fromCharCode(bytes[pos]!);
  return out;
}

/** where the client's server is once a step's reply has arrived */
type After = 'linked' | 'released' | 'closed';

interface Step {
  client: Buffer;
  reply: Buffer;
  after: After;
}

interface Case {
  name: string;
  steps: Step[];
}

const CASES: Case[] = [
  { name: 'a simple query', steps: [{ client: Query('select 1'), reply: all(Columns, Row('1'), Complete('SELECT 1'), Ready('I')), after: 'released' }] },
  {
    name: 'a transaction block over three queries',
    steps: [
      { client: Query('begin'), reply: all(Complete('BEGIN'), Ready('T')), after: 'linked' },
      { client: Query('select 1'), reply: all(Columns, Row('1'), Complete('SELECT 1'), Ready('T')), after: 'linked' },
      { client: Query('commit'), reply: all(Complete('COMMIT'), Ready('I')), after: 'released' },
    ],
  },
  { name: 'several statements in one Query', steps: [{ client: Query('select 1; select 2'), reply: all(Columns, Row('1'), Complete('SELECT 1'), Columns, Row('2'), Complete('SELECT 1'), Ready('I')), after: 'released' }] },
  { name: 'an empty query', steps: [{ client: Query(''), reply: all(EmptyQuery, Ready('I')), after: 'released' }] },
  { name: 'an error in a simple query', steps: [{ client: Query('select 1/0'), reply: all(Failure('22012'), Ready('I')), after: 'released' }] },
  {
    name: 'an extended batch',
    steps: [{ client: all(Parse('', 'select 1'), Bind(), DescribePortal, Execute(), Sync), reply: all(ParseComplete, BindComplete, Columns, Row('1'), Complete('SELECT 1'), Ready('I')), after: 'released' }],
  },
  {
    name: 'two batches pipelined in one write',
    steps: [
      {
        client: all(Parse('', 'select 1'), Bind(), Execute(), Sync, Bind(), Execute(), Sync),
        reply: all(ParseComplete, BindComplete, Row('1'), Complete('SELECT 1'), Ready('I'), BindComplete, Row('1'), Complete('SELECT 1'), Ready('I')),
        after: 'released',
      },
    ],
  },
  {
    name: 'an error mid-pipeline skips to Sync',
    steps: [{ client: all(Parse('', 'select 1/0'), Bind(), Execute(), Sync), reply: all(ParseComplete, BindComplete, Failure('22012'), Ready('I')), after: 'released' }],
  },
  {
    name: 'an error with no Sync after it: the server discards until one comes, so it stays',
    steps: [
      { client: all(Parse('', 'select 1/0'), Bind(), Execute(), Flush), reply: all(ParseComplete, BindComplete, Failure('22012')), after: 'linked' },
      { client: Sync, reply: Ready('I'), after: 'released' },
    ],
  },
  {
    name: 'a portal suspended at a row limit, then continued',
    steps: [
      { client: all(Parse('', 'select 1'), Bind(), Execute(1), Flush), reply: all(ParseComplete, BindComplete, Row('1'), Suspended), after: 'linked' },
      { client: all(Execute(1), Sync), reply: all(Complete('SELECT 1'), Ready('I')), after: 'released' },
    ],
  },
  {
    name: 'a Sync answered inside a transaction keeps the server',
    steps: [
      { client: all(Parse('', 'begin'), Bind(), Execute(), Sync), reply: all(ParseComplete, BindComplete, Complete('BEGIN'), Ready('T')), after: 'linked' },
      { client: Query('rollback'), reply: all(Complete('ROLLBACK'), Ready('I')), after: 'released' },
    ],
  },
  { name: 'a FunctionCall', steps: [{ client: FunctionCall, reply: all(FunctionResult, Ready('I')), after: 'released' }] },
  {
    name: 'COPY FROM STDIN by a simple query',
    steps: [
      { client: Query('copy t from stdin'), reply: CopyIn, after: 'linked' },
      { client: all(CopyData('1\n'), CopyData('2\n'), CopyDone), reply: all(Complete('COPY 2'), Ready('I')), after: 'released' },
    ],
  },
  {
    name: 'COPY FROM STDIN ended by CopyFail',
    steps: [
      { client: Query('copy t from stdin'), reply: CopyIn, after: 'linked' },
      { client: all(CopyData('1\n'), CopyFail), reply: all(Failure('57014'), Ready('I')), after: 'released' },
    ],
  },
  {
    name: 'COPY FROM STDIN by the extended protocol, with the Sync PostgreSQL ignores during COPY (libpq)',
    steps: [
      { client: all(Parse('', 'copy t from stdin'), Bind(), DescribePortal, Execute(), Sync), reply: all(ParseComplete, BindComplete, NoData, CopyIn), after: 'linked' },
      { client: all(CopyData('1\n'), CopyDone, Sync), reply: all(Complete('COPY 1'), Ready('I')), after: 'released' },
    ],
  },
  {
    name: 'an error during an extended COPY after an ignored Sync: the server is never reused',
    steps: [
      { client: all(Parse('', 'copy t from stdin'), Bind(), Execute(), Sync), reply: all(ParseComplete, BindComplete, CopyIn), after: 'linked' },
      { client: CopyData('x\n'), reply: Failure('22P02'), after: 'linked' },
      { client: all(CopyDone, Sync), reply: Ready('I'), after: 'closed' },
    ],
  },
  {
    name: 'COPY TO STDOUT',
    steps: [{ client: Query('copy t to stdout'), reply: all(CopyOut, ServerCopyData, ServerCopyData, ServerCopyDone, Complete('COPY 2'), Ready('I')), after: 'released' }],
  },
];

interface Live {
  rig: PoolRig;
  client: FakeSocket;
  server: FakeSocket;
}

async function start(mode: PoolMode = 'transaction', overrides: Partial<Settings> = {}): Promise<Live> {
  const rig = poolRig(mode, overrides);
  const { socket } = rig.connect();
  await settle();
  await settle();
  const server = rig.servers[0]!;
  expect(socket.take().subarray(-6).toString('latin1', 5)).toBe('I'); // logged in: ReadyForQuery last
  server.take();
  return { rig, client: socket, server };
}

function where(live: Live): After {
  const { pool } = live.rig;
  if (pool.serverCount === 0) return 'closed';
  return pool.idleServers.size === 1 ? 'released' : 'linked';
}

/** feed `bytes` as two chunks cut at `at` (0: one chunk) */
function feed(socket: FakeSocket, bytes: Buffer, at: number): void {
  if (at > 0 && at < bytes.length) {
    socket.feed(bytes.subarray(0, at));
    socket.feed(bytes.subarray(at));
  } else {
    socket.feed(bytes);
  }
}

/** run a case, cutting step `cutStep`'s client bytes at `clientAt` and its reply at `replyAt` */
async function run(steps: Step[], cutStep: number, clientAt: number, replyAt: number): Promise<void> {
  const live = await start();
  for (const [n, step] of steps.entries()) {
    const cut = n === cutStep ? ` (client bytes cut at ${clientAt}, reply at ${replyAt})` : '';
    feed(live.client, step.client, n === cutStep ? clientAt : 0);
    expect(live.server.take(), `step ${n}${cut}: the server gets the client's bytes unchanged`).toEqual(step.client);
    if (n === cutStep && replyAt > 0 && replyAt < step.reply.length) {
      live.server.feed(step.reply.subarray(0, replyAt));
      // half a reply never releases the server
      expect(where(live), `step ${n}: reply cut at ${replyAt}`).toBe('linked');
      live.server.feed(step.reply.subarray(replyAt));
    } else {
      live.server.feed(step.reply);
    }
    expect(live.client.take(), `step ${n}${cut}: the client gets the server's bytes unchanged`).toEqual(step.reply);
    expect(where(live), `step ${n}${cut}`).toBe(step.after);
  }
}

describe('Link: what the server owes, at every split offset', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      await run(testCase.steps, -1, 0, 0);
      for (const [n, step] of testCase.steps.entries()) {
        for (let at = 1; at < step.client.length; at++) await run(testCase.steps, n, at, 0);
        for (let at = 1; at < step.reply.length; at++) await run(testCase.steps, n, 0, at);
      }
    });
  }
});

describe('Pool release rules', () => {
  it('session mode keeps the server for the whole session', async () => {
    const live = await start('session');
    live.client.feed(Query('select 1'));
    live.server.feed(all(Complete('SELECT 1'), Ready('I')));
    expect(where(live)).toBe('linked');
    live.client.feed(wire().message('X'));
    // server_reset_query runs before anyone else gets it
    expect(live.server.take().toString('latin1')).toContain('DISCARD ALL');
    expect(where(live)).toBe('linked');
    live.server.feed(all(Complete('DISCARD ALL'), Ready('I')));
    expect(where(live)).toBe('released');
  });

  it('a client gone mid-message closes its server, which would read the next client\'s bytes as the rest', async () => {
    const live = await start();
    const query = Query('select 1');
    live.client.feed(query.subarray(0, 7));
    live.client.destroy();
    expect(where(live)).toBe('closed');
  });

  it('a client gone while the server still owes replies closes the server', async () => {
    const live = await start();
    live.client.feed(Query('select pg_sleep(10)'));
    live.client.destroy();
    expect(where(live)).toBe('closed');
  });

  it('a client gone between transactions gives its server back', async () => {
    const live = await start();
    live.client.feed(Query('begin'));
    live.server.feed(all(Complete('BEGIN'), Ready('T')));
    live.client.feed(Query('commit'));
    live.server.feed(all(Complete('COMMIT'), Ready('I')));
    live.client.destroy();
    expect(where(live)).toBe('released');
  });

  it('waits until the client has taken its replies (PgBouncer\'s rule), then releases at drain', async () => {
    const live = await start();
    live.client.writableNeedDrain = true;
    live.client.feed(Query('select 1'));
    live.server.feed(all(Complete('SELECT 1'), Ready('I')));
    expect(where(live)).toBe('linked');
    live.client.writableNeedDrain = false;
    live.client.emit('drain');
    expect(where(live)).toBe('released');
  });

  it('statement mode ends a client that opens a transaction block, after the BEGIN\'s reply', async () => {
    const live = await start('statement');
    live.client.feed(Query('begin'));
    live.server.feed(all(Complete('BEGIN'), Ready('T')));
    const seen = live.client.take().toString('latin1');
    expect(seen.startsWith('C')).toBe(true);
    expect(seen).toContain('transaction blocks not allowed in statement pooling mode');
    expect(where(live)).toBe('closed');
  });

  it('a second client waits for the first one\'s transaction, then gets the same server', async () => {
    const live = await start();
    const second = live.rig.connect().socket;
    second.take();
    live.client.feed(Query('begin'));
    live.server.feed(all(Complete('BEGIN'), Ready('T')));
    live.server.take();
    second.feed(Query('select 2'));
    expect(live.rig.pool.waitingClients.size).toBe(1);
    live.client.feed(Query('commit'));
    live.server.feed(all(Complete('COMMIT'), Ready('I')));
    expect(live.server.take()).toEqual(all(Query('commit'), Query('select 2')));
    expect(live.rig.pool.waitingClients.size).toBe(0);
  });
});

describe('Link with prepared statements rewritten (transaction mode)', () => {
  const NamedBind = (statement: string) => Bind('', statement);
  const serverName = (bytes: Buffer) => /POOLER_[0-9a-f]{12}_\d+/.exec(bytes.toString('latin1'))?.[0];

  const prepared = (capacity = 10) => start('transaction', { max_prepared_statements: capacity });

  it('rewrites a named Parse and Bind to the shared server name, and the replies come back unchanged', async () => {
    const live = await prepared();
    live.client.feed(all(Parse('mine', 'select 1'), NamedBind('mine'), Execute(), Sync));
    const sent = live.server.take();
    const name = serverName(sent)!;
    expect(sent).toEqual(all(Parse(name, 'select 1'), NamedBind(name), Execute(), Sync));
    const reply = all(ParseComplete, BindComplete, Row('1'), Complete('SELECT 1'), Ready('I'));
    live.server.feed(reply);
    expect(live.client.take()).toEqual(reply);
    expect(where(live)).toBe('released');
  });

  it('a second client\'s Parse of a text the server has is answered by the pooler, in its place among the replies', async () => {
    const live = await prepared();
    // statements are shared process-wide: a text no other test prepares
    live.client.feed(all(Parse('a', 'select 101'), Sync));
    expect(codes(live.server.take())).toBe('PS');
    live.server.feed(all(ParseComplete, Ready('I')));
    live.client.take();
    const second = live.rig.connect().socket;
    second.take();
    second.feed(all(Parse('', 'select 2'), Bind(), Execute(), Parse('b', 'select 101'), Sync));
    // the named Parse never reaches the server
    const sent = live.server.take();
    expect(codes(sent)).toBe('PBES');
    expect(sent).toEqual(all(Parse('', 'select 2'), Bind(), Execute(), Sync));
    live.server.feed(all(ParseComplete, BindComplete, Row('2'), Complete('SELECT 1'), Ready('I')));
    expect(second.take()).toEqual(all(ParseComplete, BindComplete, Row('2'), Complete('SELECT 1'), ParseComplete, Ready('I')));
    expect(where(live)).toBe('released');
  });

  it('an error before Sync undoes the Parse the server skipped: the name does not exist afterwards', async () => {
    const live = await prepared();
    live.client.feed(all(Parse('', 'select 1/0'), Bind(), Execute(), Parse('later', 'select 3'), Sync));
    live.server.take();
    live.server.feed(all(ParseComplete, BindComplete, Failure('22012'), Ready('I')));
    live.client.take();
    expect(where(live)).toBe('released');
    live.client.feed(all(NamedBind('later'), Execute(), Sync));
    // refused by the pooler with PostgreSQL's error, at its place in the stream (a probe the server fails)
    live.server.feed(all(Failure('26000'), Ready('I')));
    const seen = live.client.take().toString('latin1');
    expect(seen).toContain('prepared statement "later" does not exist');
    expect(seen).toContain('26000');
  });

  it('evicts the least recently used statement with a Close beyond max_prepared_statements', async () => {
    const live = await prepared(2);
    live.client.feed(all(Parse('s1', 'select 1'), Parse('s2', 'select 2'), Parse('s3', 'select 3'), Sync));
    expect(codes(live.server.take())).toBe('PPCPS');
    expect(live.rig.pool.activeServers.first()!.statements!.statementCount).toBe(2);
  });
});

describe('Link: a stale shared plan (0A000) met by a client whose Parse the pooler answered', () => {
  const StalePlan = wire().bytes('S').cstring('ERROR').bytes('C').cstring('0A000').bytes('M').cstring('cached plan must not change result type').bytes(Buffer.from([0])).message('E');
  const CloseComplete = wire().message('3');

  /** a second client whose Parse of a text the server has is answered by the pooler */
  async function secondClient(sql: string): Promise<{ live: Live; second: FakeSocket }> {
    const live = await start('transaction', { max_prepared_statements: 10 });
    live.client.feed(all(Parse('first', sql), Bind('', 'first'), Execute(), Sync));
    live.server.take();
    live.server.feed(all(ParseComplete, BindComplete, Row('1'), Complete('SELECT 1'), Ready('I')));
    live.client.take();
    const second = live.rig.connect().socket;
    second.take();
    return { live, second };
  }

  it('outside a transaction block, the batch goes again with the statement prepared afresh, and the client sees only the retried replies', async () => {
    const { live, second } = await secondClient('select 201');
    second.feed(all(Parse('mine', 'select 201'), Bind('', 'mine'), Execute(), Sync));
    expect(codes(live.server.take())).toBe('BES');
    live.server.feed(all(StalePlan, Ready('I')));
    // the error and its ReadyForQuery are swallowed; Close, Parse, Bind, Execute, Sync go again
    expect(codes(live.server.take())).toBe('CPBES');
    live.server.feed(all(CloseComplete, ParseComplete, BindComplete, Row('x'), Complete('SELECT 1'), Ready('I')));
    expect(second.take()).toEqual(all(ParseComplete, BindComplete, Row('x'), Complete('SELECT 1'), Ready('I')));
    expect(where(live)).toBe('released');
  });

  it('inside a transaction block, the client gets PostgreSQL\'s error where it stood', async () => {
    const { live, second } = await secondClient('select 202');
    second.feed(Query('begin'));
    live.server.feed(all(Complete('BEGIN'), Ready('T')));
    second.take();
    live.server.take();
    second.feed(all(Parse('mine', 'select 202'), Bind('', 'mine'), Execute(), Sync));
    live.server.feed(all(StalePlan, Ready('E')));
    expect(codes(live.server.take())).toBe('BES');
    expect(second.take()).toEqual(all(ParseComplete, StalePlan, Ready('E')));
  });

  it('a client whose own Parse made the plan gets PostgreSQL\'s error, as it would direct', async () => {
    const { live } = await secondClient('select 203');
    live.client.feed(all(Bind('', 'first'), Execute(), Sync));
    live.server.feed(all(StalePlan, Ready('I')));
    expect(live.client.take()).toEqual(all(StalePlan, Ready('I')));
    expect(codes(live.server.take())).toBe('BES');
  });
});

describe('Link: a SET follows its client, at every split offset, and never reaches the next client of the server', () => {
  const set = Query("SET work_mem = '64MB'");
  const reply = all(Complete('SET'), Ready('I'));

  for (const side of ['client', 'server'] as const) {
    it(`with the ${side} bytes cut at every offset`, async () => {
      const length = side === 'client' ? set.length : reply.length;
      for (let at = 0; at < length; at++) {
        const live = await start();
        feed(live.client, set, side === 'client' ? at : 0);
        expect(live.server.take()).toEqual(set);
        feed(live.server, reply, side === 'server' ? at : 0);
        expect(live.client.take()).toEqual(reply);
        expect(where(live), `cut at ${at}`).toBe('released');
        // the next client of the same server gets it back at the default before its own query
        const other = live.rig.connect().socket;
        other.take();
        other.feed(Query('select 1'));
        expect(live.server.take(), `cut at ${at}`).toEqual(Query('RESET "work_mem";'));
        live.server.feed(all(Complete('RESET'), Ready('I')));
        expect(live.server.take(), `cut at ${at}`).toEqual(Query('select 1'));
        live.server.feed(all(Complete('SELECT 1'), Ready('I')));
        other.take();
        // and the first client's next query finds its setting again
        live.client.feed(Query('show work_mem'));
        expect(live.server.take(), `cut at ${at}`).toEqual(Query(`SET "work_mem" = '64MB';`));
      }
    });
  }
});
