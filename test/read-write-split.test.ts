// read_write_split against a real primary and two streaming standbys, through the pooler process:
// which statements reach a standby and which the primary, that a write pipelined behind a read
// still reaches the primary, that a read whose standby dies unanswered is answered by another
// host, and read-your-writes: 10 000 write-then-read pairs see every row, while with
// read_your_writes = off the same loop reads stale rows. Issue 20, items 4–6.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryMessage } from '../src/protocol/frontend-messages.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { RawClient } from './support/raw-client.js';
import { ReplicationCluster } from './support/replication.js';
import { waitUntil } from './support/wait.js';

let cluster: ReplicationCluster;
let pooler: PoolerProcess;
let standbyPorts: number[];

beforeAll(async () => {
  cluster = await ReplicationCluster.start(2);
  await cluster.query('primary', 'CREATE TABLE rows (id bigint PRIMARY KEY, writer int)');
  await cluster.query('primary', 'CREATE SEQUENCE ids');
  await cluster.waitCaughtUp();
  standbyPorts = cluster.standbys.map((s) => s.port);
  const hosts = `host=127.0.0.1,127.0.0.1,127.0.0.1 port=${[cluster.primary.port, ...standbyPorts].join(',')} dbname=postgres`;
  pooler = await startPooler({
    settings: { auth_type: 'trust', admin_users: 'postgres', pool_mode: 'transaction', server_login_retry: 1, health_check_period: 1 },
    databases: {
      app: `${hosts} read_write_split=on load_balance=round_robin pool_size=6`,
      app_off: `${hosts} read_write_split=on load_balance=round_robin pool_size=6 read_your_writes=off`,
    },
  });
}, 90_000);

afterAll(async () => {
  await pooler?.stop();
  await cluster?.stopAll();
});

async function connect(database = 'app'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pooler.url(database, 'postgres') });
  await client.connect();
  return client;
}

/** the port of the server that ran `sql` (its last column must be inet_server_port()) */
async function portOf(client: pg.Client, sql: string, params?: unknown[]): Promise<number> {
  const answer: pg.QueryResult | pg.QueryResult[] = await client.query({ text: sql, values: params, rowMode: 'array' });
  // several statements in one Query: the last that returned rows
  const result = Array.isArray(answer) ? answer.filter((r) => r.rows.length > 0).pop()! : answer;
  const row = result.rows[result.rows.length - 1] as unknown[];
  return Number(row[row.length - 1]);
}

describe('where statements go', () => {
  it('sends provable reads to the standbys and everything else to the primary', async () => {
    const client = await connect();
    try {
      const primary = cluster.primary.port;
      const onStandby = (port: number) => standbyPorts.includes(port);
      expect(onStandby(await portOf(client, 'SELECT count(*), inet_server_port() FROM rows'))).toBe(true);
      // the extended protocol (node-postgres sends Parse/Bind/Execute when there are parameters)
      expect(onStandby(await portOf(client, 'SELECT $1::int + 1, inet_server_port()', [41]))).toBe(true);
      expect(onStandby(await portOf(client, 'BEGIN READ ONLY; SELECT inet_server_port(); COMMIT'))).toBe(true);
      expect(onStandby(await portOf(client, 'BEGIN; SET TRANSACTION READ ONLY; SELECT inet_server_port(); COMMIT'))).toBe(true);
      // writes, and what the classifier cannot prove read-only
      expect(await portOf(client, 'INSERT INTO rows VALUES (nextval(\'ids\'), 0) RETURNING inet_server_port()')).toBe(primary);
      expect(await portOf(client, 'SELECT nextval(\'ids\'), inet_server_port()')).toBe(primary);
      expect(await portOf(client, 'SELECT id, inet_server_port() FROM rows LIMIT 1 FOR UPDATE')).toBe(primary);
      expect(await portOf(client, 'BEGIN; SELECT inet_server_port(); COMMIT')).toBe(primary);
      expect(await portOf(client, 'SELECT 1; DELETE FROM rows WHERE id < 0; SELECT inet_server_port()')).toBe(primary);
      expect(await portOf(client, 'SELECT pg_advisory_xact_lock(1), inet_server_port()')).toBe(primary);
    } finally {
      await client.end();
    }
  });

  it('keeps a BEGIN READ ONLY block on its standby across several requests, and a write in it fails as PostgreSQL fails it', async () => {
    const client = await connect();
    try {
      await client.query('BEGIN READ ONLY');
      const first = await portOf(client, 'SELECT inet_server_port()');
      expect(standbyPorts).toContain(first);
      await expect(client.query('INSERT INTO rows VALUES (-1, 0)')).rejects.toThrow(/read-only transaction/);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('sends a write pipelined behind a read to the primary once the read is answered', async () => {
    const raw = await RawClient.login(pooler.port, 'app');
    try {
      raw.send(Buffer.concat([
        queryMessage('SELECT pg_is_in_recovery()::text'),
        queryMessage('INSERT INTO rows VALUES (-100, 1) RETURNING pg_is_in_recovery()::text'),
        queryMessage('SELECT count(*)::text FROM rows WHERE id = -100'),
      ]));
      const answers: string[] = [];
      for (let i = 0; i < 3; i++) {
        const messages = await raw.readUntilReady();
        const error = messages.find((m) => m.code === 'E');
        expect(error, error?.body.toString('latin1')).toBeUndefined();
        const row = messages.find((m) => m.code === 'D')!;
        answers.push(row.body.toString('latin1', 6));
      }
      // read on a standby, write on the primary, and the read right after it sees the row (read your writes)
      expect(answers).toEqual(['true', 'false', '1']);
    } finally {
      raw.close();
    }
  });
  it('answers a 1.5 MB read between two small ones, in one write and cut at awkward offsets, as PostgreSQL direct does', async () => {
    // over the 1 MB the pooler reads of a statement: unjudged, so it belongs on the primary
    const big = `SELECT length('${'x'.repeat(1_500_000)}')::text`;
    const pipeline = Buffer.concat([queryMessage('SELECT 1::text'), queryMessage(big), queryMessage('SELECT 3::text')]);
    const direct = await RawClient.login(cluster.primary.port, 'postgres');
    const expected: string[] = [];
    try {
      direct.send(pipeline);
      for (let i = 0; i < 3; i++) expected.push((await direct.readUntilReady()).find((m) => m.code === 'D')!.body.toString('latin1', 6));
    } finally {
      direct.close();
    }
    expect(expected).toEqual(['1', '1500000', '3']);
    for (const cut of [null, 3, queryMessage('SELECT 1::text').length + 1, pipeline.length - 5]) {
      const raw = await RawClient.login(pooler.port, 'app');
      try {
        if (cut === null) raw.send(pipeline);
        else await raw.sendSplit(pipeline, [cut]);
        const answers: string[] = [];
        for (let i = 0; i < 3; i++) {
          const messages = await raw.readUntilReady();
          const error = messages.find((m) => m.code === 'E');
          expect(error, error?.body.toString('latin1')).toBeUndefined();
          answers.push(messages.find((m) => m.code === 'D')!.body.toString('latin1', 6));
        }
        expect(answers).toEqual(expected);
      } finally {
        raw.close();
      }
    }
  });
});

/** `pairs` write-then-read rounds over `clients` connections: how many reads missed the row just written */
async function writeThenRead(database: string, clients: number, pairs: number): Promise<{ stale: number; onStandby: number }> {
  let next = 0;
  let stale = 0;
  let onStandby = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, writer) => {
      const client = await connect(database);
      try {
        while (next < pairs) {
          next++;
          const [{ id }] = (await client.query<{ id: string }>("INSERT INTO rows VALUES (nextval('ids'), $1) RETURNING id", [writer])).rows as [{ id: string }];
          const seen = (await client.query<{ found: boolean; standby: boolean }>('SELECT count(*) = 1 AS found, pg_is_in_recovery() AS standby FROM rows WHERE id = $1', [id])).rows[0]!;
          if (!seen.found) stale++;
          if (seen.standby) onStandby++;
        }
      } finally {
        await client.end();
      }
    }),
  );
  return { stale, onStandby };
}

describe('read your writes', () => {
  it('never misses its own write in 10 000 write-then-read pairs, and still reads from the standbys', async () => {
    const { stale, onStandby } = await writeThenRead('app', 10, 10_000);
    expect(stale).toBe(0);
    // the standbys answer a share of the reads once they have replayed the write (the poll is every 100 ms)
    expect(onStandby).toBeGreaterThan(0);
  }, 120_000);

  it('with read_your_writes = off, reads right after a write do miss it', async () => {
    const { stale, onStandby } = await writeThenRead('app_off', 10, 2000);
    expect(onStandby).toBe(2000);
    expect(stale).toBeGreaterThan(0);
  }, 60_000);
});

describe('reads ride through a standby that goes away', () => {
  it('answers a read sent to a standby backend that dies before replying, from the other standby', async () => {
    const client = await connect();
    try {
      // warm both standbys' pools, then freeze standby 0's idle servers: a read sent there hangs unanswered
      for (let i = 0; i < 4; i++) await client.query('SELECT 1');
      const frozen = (
        await cluster.query<{ pid: number }>(0, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'idle' AND pid <> pg_backend_pid() AND application_name NOT LIKE 'pooler%'")
      ).map((r) => r.pid);
      expect(frozen.length).toBeGreaterThan(0);
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
      let answeredBy: number | null = null;
      try {
        for (let attempt = 0; attempt < 4 && answeredBy === null; attempt++) {
          const read = portOf(client, 'SELECT count(*), inet_server_port() FROM rows');
          const quick = await Promise.race([read, new Promise<null>((resolve) => setTimeout(() => resolve(null), 300))]);
          if (quick !== null) continue; // round robin sent it to standby 1: try again
          // the read waits on a frozen server: kill that server without a word (no byte of answer)
          for (const pid of frozen) process.kill(pid, 'SIGKILL');
          answeredBy = await read;
        }
      } finally {
        for (const pid of frozen) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      expect(answeredBy).toBe(standbyPorts[1]);
    } finally {
      await client.end();
    }
    // standby 0 restarts after the crash of its backend
    await waitUntil(() => cluster.query(0, 'SELECT 1').then(() => true, () => false), (up) => up, 'standby 0 back after its crash restart');
  }, 30_000);

  it('gives no error to 10 clients reading while a standby is stopped under them', async () => {
    let stop = false;
    const errors: string[] = [];
    let reads = 0;
    const readers = Array.from({ length: 10 }, async () => {
      const client = await connect();
      client.on('error', (error) => errors.push(error.message));
      try {
        while (!stop) {
          await client.query('SELECT count(*) FROM rows').then(
            () => reads++,
            (error: Error) => errors.push(error.message),
          );
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cluster.stop(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stop = true;
    await Promise.all(readers);
    await cluster.start(0);
    expect(errors).toEqual([]);
    expect(reads).toBeGreaterThan(100);
  }, 60_000);
});
