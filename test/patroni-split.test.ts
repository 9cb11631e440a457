// read_write_split on a Patroni entry (issue 20's acceptance test): a real etcd + three Patroni
// nodes, reads on the replicas Patroni lists and writes on its leader; then 20 read-only clients
// looping through a switchover and a leader kill see no error and no answer more than 1 s late.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatroniCluster } from './support/patroni-cluster.js';
import { queryOnce } from './support/pg-client.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

let cluster: PatroniCluster;
let pooler: PoolerProcess;

const direct = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`;

beforeAll(async () => {
  cluster = await PatroniCluster.start();
  const leader = await cluster.waitForLeader(null, 30_000);
  await queryOnce(direct(leader.port), 'CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g; CREATE TABLE written (n serial PRIMARY KEY)');
  for (const node of cluster.nodes) {
    await waitUntil(
      () => queryOnce<{ ok: boolean }>(direct(node.pgPort), "SELECT to_regclass('written') IS NOT NULL AS ok").then((rows) => rows[0]!.ok, () => false),
      (ok) => ok,
      `${node.name} has the tables`,
      60_000,
    );
  }
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', pool_mode: 'transaction', default_pool_size: 10, patroni_poll_interval: 1, failover_wait_timeout: 60 },
    databases: { app: `dbname=postgres patroni=${cluster.apiUrls.join(',')} read_write_split=on load_balance=round_robin` },
  });
}, 180_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stop();
});

interface Served {
  inRecovery: boolean;
  port: number;
}

const READ = 'SELECT pg_is_in_recovery() AS "inRecovery", inet_server_port() AS port, pg_backend_pid() AS pid, count(*) FROM items';

async function served(client: pg.Client, sql: string): Promise<Served> {
  const { rows } = await client.query<Served>(sql);
  return { inRecovery: rows[0]!.inRecovery, port: rows[0]!.port };
}

/** one read-only client's loop: every error, its answers per server port, the longest wait between two answers */
interface Reader {
  reads: number;
  errors: { at: number; message: string; code: string }[];
  perPort: Map<number, number>;
  /** each server backend ('port/pid') that answered: when first and last */
  backends: Map<string, { first: number; last: number }>;
  onPrimary: number;
  maxGapMs: number;
  /** waits over 300 ms between two answers: when each began (ms since the epoch) and how long it was */
  longGaps: { from: number; ms: number }[];
}

function startReaders(count: number): { readers: Reader[]; stop(): Promise<void> } {
  let running = true;
  const readers: Reader[] = [];
  const loops = Array.from({ length: count }, async (_, i) => {
    const reader: Reader = { reads: 0, errors: [], perPort: new Map(), backends: new Map(), onPrimary: 0, maxGapMs: 0, longGaps: [] };
    readers.push(reader);
    const client = new pg.Client({ connectionString: pooler.url('app') });
    client.on('error', (error: Error & { code?: string }) => reader.errors.push({ at: Date.now(), message: error.message, code: error.code ?? 'none' }));
    await client.connect();
    let last = Date.now();
    // half the clients use the extended protocol (a parameter makes node-postgres send Parse/Bind/Execute)
    const query = i % 2 === 0 ? { text: READ } : { text: `${READ} WHERE id > $1`, values: [0] };
    while (running) {
      try {
        const { rows } = await client.query<Served & { pid: number }>(query);
        const now = Date.now();
        reader.maxGapMs = Math.max(reader.maxGapMs, now - last);
        if (now - last > 300) reader.longGaps.push({ from: last, ms: now - last });
        last = now;
        reader.reads++;
        const port = rows[0]!.port;
        reader.perPort.set(port, (reader.perPort.get(port) ?? 0) + 1);
        const backend = `${port}/${rows[0]!.pid}`;
        const seen = reader.backends.get(backend);
        if (seen === undefined) reader.backends.set(backend, { first: now, last: now });
        else seen.last = now;
        if (!rows[0]!.inRecovery) reader.onPrimary++;
      } catch (error) {
        const e = error as Error & { code?: string };
        reader.errors.push({ at: Date.now(), message: e.message, code: e.code ?? 'none' });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await client.end().catch(() => undefined);
  });
  return {
    readers,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** one client writing every 50 ms: what each write got (a port, or an error), and when */
function startWriter(): { outcomes: { at: number; port?: number; code?: string; message?: string }[]; stop(): Promise<void> } {
  let running = true;
  const outcomes: { at: number; port?: number; code?: string; message?: string }[] = [];
  const loop = (async () => {
    let client: pg.Client | null = null;
    while (running) {
      try {
        if (client === null) {
          const fresh = new pg.Client({ connectionString: pooler.url('app') });
          fresh.on('error', () => undefined);
          await fresh.connect();
          client = fresh;
        }
        const { rows } = await client.query<{ port: number }>('INSERT INTO written DEFAULT VALUES RETURNING inet_server_port() AS port');
        outcomes.push({ at: Date.now(), port: rows[0]!.port });
      } catch (error) {
        const e = error as Error & { code?: string };
        outcomes.push({ at: Date.now(), code: e.code ?? 'none', message: e.message });
        await client?.end().catch(() => undefined);
        client = null;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    outcomes,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('read_write_split on a Patroni cluster', () => {
  it('sends reads to the replicas Patroni lists, round robin, and writes to its leader', async () => {
    const leader = await cluster.waitForLeader(null, 30_000);
    const replicaPorts = cluster.nodes.map((n) => n.pgPort).filter((port) => port !== leader.port);
    const client = new pg.Client({ connectionString: pooler.url('app') });
    await client.connect();
    try {
      // the first /cluster poll names the replicas; until then reads fall back to the primary
      await waitUntil(() => served(client, READ), (s) => s.inRecovery, 'a read on a replica');
      const ports = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const read = await served(client, READ);
        expect(read.inRecovery).toBe(true);
        ports.add(read.port);
      }
      expect([...ports].sort()).toEqual([...replicaPorts].sort());
      expect(await served(client, 'INSERT INTO written DEFAULT VALUES RETURNING pg_is_in_recovery() AS "inRecovery", inet_server_port() AS port')).toEqual({ inRecovery: false, port: leader.port });
    } finally {
      await client.end();
    }
  });

  it('gives 20 read-only clients no error and no pause over 1 s across a switchover and a leader kill', async () => {
    const first = await cluster.waitForLeader(null, 30_000);
    await cluster.waitForSyncStandby(60_000);
    const load = startReaders(20);
    const writer = startWriter();
    const marks: Record<string, number> = { start: Date.now() };
    let secondPort = 0;
    let thirdPort = 0;
    try {
      await sleep(1000);
      marks.switchover = Date.now();
      await cluster.switchover(first.name);
      const second = await cluster.waitForLeader(first.name, 60_000);
      marks.switchedOver = second.at;
      secondPort = second.port;
      // the old leader rejoins as a replica and becomes the synchronous standby a kill needs
      await cluster.waitForSyncStandby(60_000);
      await sleep(2000);
      marks.kill = Date.now();
      cluster.killNode(second.name);
      const third = await cluster.waitForLeader(second.name, 60_000);
      marks.promoted = third.at;
      thirdPort = third.port;
      await sleep(2000);
      marks.end = Date.now();
      console.log(`leaders ${first.name} -> ${second.name} (switchover) -> ${third.name} (kill); ms from start: ${JSON.stringify(Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, v - marks.start!])))}`);
    } finally {
      await load.stop();
      await writer.stop();
    }

    const readers = load.readers;
    const errors = readers.flatMap((r, client) => r.errors.map((e) => ({ client, ...e, at: e.at - marks.start! })));
    const perPort: Record<string, number> = {};
    for (const r of readers) {
      for (const [port, n] of r.perPort) {
        const name = cluster.nodes.find((node) => node.pgPort === port)?.name ?? String(port);
        perPort[name] = (perPort[name] ?? 0) + n;
      }
    }
    const worst = Math.max(...readers.map((r) => r.maxGapMs));
    const longGaps = readers.flatMap((r) => r.longGaps.map((g) => `${g.ms} ms from ${g.from - marks.start!}`));
    const reads = readers.reduce((n, r) => n + r.reads, 0);
    const onPrimary = readers.reduce((n, r) => n + r.onPrimary, 0);
    const gaps = readers.map((r) => r.maxGapMs).sort((a, b) => b - a);
    console.log(
      `20 readers: ${reads} reads (${onPrimary} answered by a primary), ${errors.length} errors, longest gap ${worst} ms; per-client longest gaps ${gaps.join(' ')}; over 300 ms: ${longGaps.join(', ') || 'none'}; per node ${JSON.stringify(perPort)}`,
    );
    const written = writer.outcomes.filter((o) => o.port !== undefined);
    const failed = writer.outcomes.filter((o) => o.port === undefined);
    console.log(`writer: ${written.length} writes, ${failed.length} failed ${JSON.stringify(failed.map((f) => ({ at: f.at - marks.start!, code: f.code, message: f.message })))}`);

    expect(errors).toEqual([]);
    expect(worst).toBeLessThan(1000);
    expect(reads).toBeGreaterThan(1000);
    // the third leader was a replica through the switchover and the kill: the leader moving twice
    // did not cost it its servers (backends that answered before the switchover still did after the kill)
    const kept = new Set(readers.flatMap((r) => [...r.backends].filter(([key, seen]) => key.startsWith(`${thirdPort}/`) && seen.first < marks.switchover! && seen.last > marks.kill!).map(([key]) => key)));
    console.log(`replica ${thirdPort}: ${kept.size} servers kept through both moves`);
    expect(kept.size).toBeGreaterThan(0);
    // a write at the switchover is held and then done by the new leader, or fails with a SQLSTATE (never a hang or a wrong server)
    for (const f of failed) expect(f.code).not.toBe('none');
    const betweenMoves = written.filter((o) => o.at > marks.switchedOver! + 1000 && o.at < marks.kill!);
    expect(betweenMoves.length).toBeGreaterThan(0);
    expect(betweenMoves.filter((o) => o.port !== secondPort)).toEqual([]);
  }, 180_000);
});
