// Differential fuzzing: generated sessions (test/support/session-model.ts) run on PostgreSQL direct
// and through pooler in session, transaction and statement mode, three at a time on a pool of 2 so
// servers change hands, cut into TCP writes at random offsets; the replies must be equal. Then the
// same sessions, broken on purpose, must close only their own client while a canary sharing the
// server sees nothing. A fixed seed and one random seed (printed) run in CI; `npm run fuzz -- --runs N`
// runs longer. A failing case is shrunk, printed, and belongs in REGRESSIONS below.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { TEST_DATABASE } from './harness/roles.js';
import { startCanary, type Canary } from './support/canary.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorFields, RawClient, type RawMessage } from './support/raw-client.js';
import { wire } from '../src/testing/wire.js';
import { bind, execute, parse, query, sync } from './support/extended-protocol.js';
import { cutsArbitrary, END_OF_SESSION, sessionArbitrary, type Block } from './support/session-model.js';

const postgres = getPostgres();
const MODES = ['session', 'transaction', 'statement'] as const;
type Mode = (typeof MODES)[number];
/** runs per mode and seed; `npm run fuzz -- --runs N` raises it */
const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const RANDOM_SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
let pooler: PoolerProcess;

beforeAll(async () => {
  await postgres.psql('DROP TABLE IF EXISTS fuzz_copy; CREATE UNLOGGED TABLE fuzz_copy (n int, t text)', { database: TEST_DATABASE });
  const target = `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE} pool_size=2`;
  pooler = await startPooler({
    settings: { auth_type: 'trust', max_client_conn: 200, query_wait_timeout: 60 },
    databases: {
      ...Object.fromEntries(MODES.map((mode) => [`fz_${mode}`, `${target} pool_mode=${mode}`])),
      fz_hostile: `host=${postgres.host} port=${postgres.port} dbname=${TEST_DATABASE} pool_size=1 pool_mode=transaction`,
    },
  });
  console.log(`differential fuzz: ${RUNS} runs per mode with seed 42 and with seed ${RANDOM_SEED} (FUZZ_SEED=${RANDOM_SEED} repeats it)`);
});

afterAll(async () => {
  await pooler?.stop();
});

/** a reply as comparable text: errors and notices without the server's source location, big bodies hashed */
function normalise(message: RawMessage): string {
  if (message.code === 'E' || message.code === 'N') {
    const f = errorFields(message.body);
    return `${message.code} ${f.V ?? f.S} ${f.C} ${f.M}${f.D ? ` D:${f.D}` : ''}${f.H ? ` H:${f.H}` : ''}${f.P ? ` P:${f.P}` : ''}`;
  }
  // NotificationResponse carries the sending backend's pid
  if (message.code === 'A') return `A ${message.body.subarray(4).toString('latin1')}`;
  if (message.body.length > 256) return `${message.code} ${message.body.length} ${createHash('sha1').update(message.body).digest('hex')}`;
  return `${message.code} ${message.body.toString('latin1')}`;
}

/** run one session on a fresh connection: its bytes cut at `cuts` (fractions), replies up to the end marker */
async function runSession(port: number, database: string, session: Block[], cuts: number[]): Promise<string[]> {
  const client = await RawClient.login(port, database);
  try {
    const bytes = Buffer.concat([...session.map((b) => b.bytes), END_OF_SESSION]);
    await client.sendSplit(bytes, cuts.map((c) => Math.floor(c * bytes.length)));
    const out: string[] = [];
    for (let ready = 0; ready <= session.length; ) {
      const message = await client.readMessage(30_000);
      if (message === null) return [...out, 'closed'];
      out.push(normalise(message));
      if (message.code === 'Z') ready++;
    }
    return out;
  } finally {
    client.close();
  }
}

function describeCase(sessions: Block[][]): string {
  return sessions.map((s, i) => `session ${i}:\n${s.map((b) => `  ${b.label}\n    ${b.bytes.subarray(0, 200).toString('hex')}`).join('\n')}`).join('\n');
}

const block = (label: string, ...messages: Buffer[]): Block => ({ label, bytes: Buffer.concat(messages), transaction: false });
const copyInExtended = () => block('COPY IN extended 0 rows', parse('', 'COPY fuzz_copy FROM STDIN'), bind('', ''), execute(''), sync(), wire().message('c'), sync());

/** cases the fuzzer found, shrunk, kept as regressions */
const REGRESSIONS: { name: string; mode: Mode; sessions: () => Block[][] }[] = [
  ...(['transaction', 'statement'] as const).map((mode) => ({
    name: 'a refused unknown statement after an extended-protocol COPY gets the pooler\'s error, not the probe\'s',
    mode,
    sessions: () => [[copyInExtended(), block('[B fz_b; S]', bind('', 'fz_b', ['']), sync())]],
  })),
  ...(['transaction', 'statement'] as const).map((mode) => ({
    name: 'a failed named Parse, Sync, then a Parse of the same name in one write: the second parses, as direct',
    mode,
    sessions: () => [[block('[P retry SELEC 1; S]', parse('retry', 'SELEC 1'), sync()), block('[P retry; B retry; E; S]', parse('retry', 'SELECT 1 AS n'), bind('', 'retry'), execute(''), sync())]],
  })),
  {
    name: 'a Parse of a statement the server already has, inside a failed transaction, gets 25P02 as direct',
    mode: 'transaction',
    sessions: () => [
      [
        block('[P fz_a; S]', parse('fz_a', 'SELECT $1::text AS t'), sync()),
        block('[C S fz_a; S]', wire().bytes('S').cstring('fz_a').message('C'), sync()),
        block('Q BEGIN', query('BEGIN')),
        block('Q SELECT 1/0', query('SELECT 1/0')),
        block('[P fz_a; S]', parse('fz_a', 'SELECT $1::text AS t'), sync()),
        block('Q ROLLBACK', query('ROLLBACK')),
      ],
    ],
  },
  {
    name: 'a Parse of a name already in use, inside a failed transaction, gets 25P02 as direct (not 42P05)',
    mode: 'transaction',
    sessions: () => [
      [
        block('Q BEGIN', query('BEGIN')),
        block('[P fz_b; D P; S]', parse('fz_b', 'SELECT $1::text AS t'), wire().bytes('P').cstring('').message('D'), sync()),
        block('[P fz_b; S]', parse('fz_b', 'SELECT $1::int AS i'), sync()),
        block('Q ROLLBACK', query('ROLLBACK')),
      ],
    ],
  },
  {
    name: 'a Parse of a name whose earlier Parse failed in the same pipeline, after its Sync, succeeds',
    mode: 'statement',
    sessions: () => [[block('[E 0; P fz_a; H; S]', execute(''), parse('fz_a', 'SELECT $1::text AS t'), wire().message('H'), sync()), block('[P fz_a; S]', parse('fz_a', 'SELECT $1::text AS t'), sync())]],
  },
];

describe.each(MODES)('%s mode: generated sessions answer as PostgreSQL direct', (mode) => {
  const sessions = fc.array(sessionArbitrary({ transactions: mode !== 'statement' }), { minLength: 1, maxLength: 3 });
  const property = fc.asyncProperty(sessions, fc.array(cutsArbitrary(), { minLength: 3, maxLength: 3 }), async (generated, cuts) => {
    const [direct, pooled] = await Promise.all([
      Promise.all(generated.map((s, i) => runSession(postgres.port, TEST_DATABASE, s, cuts[i]!))),
      Promise.all(generated.map((s, i) => runSession(pooler.port, `fz_${mode}`, s, cuts[i]!))),
    ]);
    for (let i = 0; i < generated.length; i++) {
      if (JSON.stringify(pooled[i]) !== JSON.stringify(direct[i])) {
        throw new Error(`session ${i} differs\n${describeCase(generated)}\ndirect: ${JSON.stringify(direct[i])}\npooled: ${JSON.stringify(pooled[i])}`);
      }
    }
  });

  it.each([42, RANDOM_SEED])('with seed %i', async (seed) => {
    await fc.assert(property, { numRuns: RUNS, seed, interruptAfterTimeLimit: 240_000 });
  }, 300_000);

  it.each(REGRESSIONS.filter((r) => r.mode === mode))('regression: $name', async ({ sessions: make }) => {
    const generated = make();
    for (const session of generated) {
      expect(await runSession(pooler.port, `fz_${mode}`, session, [])).toEqual(await runSession(postgres.port, TEST_DATABASE, session, []));
    }
  });
});

/** one way to break a valid session's bytes */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('length' as const), message: fc.nat(), length: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1 << 20, max: 0x7fffffff }), fc.nat()) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('code' as const), message: fc.nat(), code: fc.integer({ min: 0, max: 255 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

/** the offsets where the messages of a well-formed stream start */
function messageStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  for (let at = 0; at + 5 <= bytes.length; at += 1 + bytes.readUInt32BE(at + 1)) starts.push(at);
  return starts;
}

function mutate(bytes: Buffer, m: Mutation): { bytes: Buffer; closeEarly: boolean } {
  const out = Buffer.from(bytes);
  const starts = messageStarts(bytes);
  switch (m.kind) {
    case 'flip':
      out[Math.min(out.length - 1, Math.floor(m.at * out.length))] = m.byte;
      return { bytes: out, closeEarly: false };
    case 'length':
      out.writeUInt32BE(m.length >>> 0, starts[m.message % starts.length]! + 1);
      return { bytes: out, closeEarly: false };
    case 'code':
      out[starts[m.message % starts.length]!] = m.code;
      return { bytes: out, closeEarly: false };
    case 'truncate':
      return { bytes: out.subarray(0, Math.floor(m.at * out.length)), closeEarly: true };
    case 'garbage':
      return { bytes: Buffer.concat([out, Buffer.from(m.bytes)]), closeEarly: false };
  }
}

describe('hostile streams: broken sessions close only their own client', () => {
  let canary: Canary;

  beforeAll(async () => {
    // shares the one server of fz_hostile with every broken session
    canary = await startCanary(pooler.url('fz_hostile', 'postgres'), 5);
  });

  afterAll(async () => {
    await canary?.stop();
  });

  const property = fc.asyncProperty(sessionArbitrary({ transactions: true }), mutation, cutsArbitrary(), async (session, m, cuts) => {
    const { bytes, closeEarly } = mutate(Buffer.concat(session.map((b) => b.bytes)), m);
    // a canary of this run's own, so a failure shrinks to the session that caused it
    const witness = await startCanary(pooler.url('fz_hostile', 'postgres'), 5);
    const client = await RawClient.login(pooler.port, 'fz_hostile');
    try {
      await client.sendSplit(bytes, cuts.map((c) => Math.floor(c * bytes.length))).catch(() => undefined);
      // whatever the pooler makes of it, it answers or closes within the time: it never hangs
      if (!closeEarly) for (let message = await client.readMessage(3000).catch(() => null); message !== null; message = await client.readMessage(300).catch(() => null));
    } finally {
      client.close();
    }
    // give the canary a few rounds on the server the broken session just left
    await new Promise((resolve) => setTimeout(resolve, 30));
    await witness.stop();
    if (witness.errors.length > 0) throw new Error(`the canary saw: ${String(witness.errors[0])}\n${describeCase([session])}\nmutation: ${JSON.stringify(m)}`);
  });

  it.each([42, RANDOM_SEED])('with seed %i: the process survives, and the canary on the same server sees no error', async (seed) => {
    await fc.assert(property, { numRuns: RUNS * 2, seed, interruptAfterTimeLimit: 240_000 });
    // the server the broken sessions used is still good for a well-behaved client
    const after = await RawClient.login(pooler.port, 'fz_hostile');
    after.send(END_OF_SESSION);
    expect((await after.readUntilReady()).map((m) => m.code)).toEqual(['T', 'D', 'C', 'Z']);
    after.close();
    expect(canary.errors).toEqual([]);
    expect(canary.queries).toBeGreaterThan(0);
  }, 300_000);
});
