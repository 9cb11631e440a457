// A rolling update as a container platform does it: SIGTERM while clients run transactions. No
// transaction is cut off, new connections are refused, /readyz says 503 while the drain lasts, and
// the process exits once the last client is between transactions, or at shutdown_timeout. Also
// SIGHUP changing the pool size while pgbench runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net/free-port.js';
import { getPostgres } from './harness/context.js';
import { runPgbench } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
const DB = 'drain_db';

beforeAll(async () => {
  await postgres.createDatabase(DB);
  await postgres.psql('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0)', { database: DB });
  const init = await runPgbench(['-i', '-s', '1', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', DB]);
  expect(init.code, init.stderr).toBe(0);
});

async function startDraining(shutdownTimeout: number): Promise<{ pooler: PoolerProcess; metricsPort: number }> {
  const metricsPort = await freePort();
  const pooler = await startPooler({
    settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 4, metrics_port: metricsPort, shutdown_timeout: shutdownTimeout },
    databases: { [DB]: `host=${postgres.host} port=${postgres.port}` },
  });
  return { pooler, metricsPort };
}

interface WorkerTally {
  commits: number;
  /** an error after BEGIN succeeded: a transaction was cut off */
  cutMidTransaction: number;
  /** the connection was closed while the worker was between transactions */
  closedBetween: number;
}

/** a client running BEGIN; UPDATE; SELECT; COMMIT in a loop until its connection is closed */
async function worker(url: string, tally: WorkerTally): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  for (;;) {
    try {
      await client.query('BEGIN');
    } catch {
      tally.closedBetween++;
      return;
    }
    try {
      await client.query('UPDATE counter SET n = n + 1 WHERE id = 1');
      await client.query('SELECT pg_sleep(0.02)');
      await client.query('COMMIT');
      tally.commits++;
    } catch {
      tally.cutMidTransaction++;
      return;
    }
  }
}

describe('SIGTERM drain', () => {
  let pooler: PoolerProcess;
  afterAll(async () => {
    await pooler?.stop();
  });

  it('lets every running transaction finish, refuses new clients, reports 503, and exits well before shutdown_timeout', async () => {
    const started = await startDraining(20);
    pooler = started.pooler;
    const tally: WorkerTally = { commits: 0, cutMidTransaction: 0, closedBetween: 0 };
    const workers = Array.from({ length: 12 }, () => worker(pooler.url(DB), tally));
    // one long transaction keeps the drain going long enough to look at it
    const long = new pg.Client({ connectionString: pooler.url(DB) });
    long.on('error', () => undefined);
    await long.connect();
    await new Promise((r) => setTimeout(r, 1000));
    await long.query('BEGIN');
    const longQuery = long.query('SELECT pg_sleep(1.5)');

    const signalled = Date.now();
    pooler.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const ready = await fetch(`http://127.0.0.1:${started.metricsPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reasons: string[] }).reasons).toContain('shutting down (drain)');
    const late = new pg.Client({ connectionString: pooler.url(DB) });
    await expect(late.connect()).rejects.toThrow();

    await longQuery;
    await long.query('COMMIT');
    await Promise.all(workers);
    const code = await pooler.exited;
    const drainSeconds = (Date.now() - signalled) / 1000;
    console.log(`SIGTERM under load: ${tally.commits} transactions committed, ${tally.cutMidTransaction} cut off, ${tally.closedBetween} clients closed between transactions, drain ${drainSeconds.toFixed(2)} s`);
    expect(code).toBe(0);
    expect(tally.cutMidTransaction).toBe(0);
    expect(tally.commits).toBeGreaterThan(0);
    expect(tally.closedBetween).toBe(12);
    expect(drainSeconds).toBeLessThan(20);
    const committed = Number((await postgres.psql('SELECT n FROM counter WHERE id = 1', { database: DB })).trim());
    expect(committed).toBeGreaterThanOrEqual(tally.commits);
  });

  it('exits at shutdown_timeout when a client keeps its transaction open', async () => {
    const { pooler: stuck } = await startDraining(2);
    const client = new pg.Client({ connectionString: stuck.url(DB) });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('BEGIN');
    const signalled = Date.now();
    stuck.child.kill('SIGTERM');
    expect(await stuck.exited).toBe(0);
    const took = (Date.now() - signalled) / 1000;
    expect(took).toBeGreaterThanOrEqual(1.9);
    expect(took).toBeLessThan(6);
    expect(readFileSync(stuck.logFile, 'utf8')).toContain('shutdown_timeout reached');
    await stuck.stop();
  });
});

describe('SIGHUP under load', () => {
  it('changes the pool size while pgbench runs, without a failed transaction', async () => {
    const p = await startPooler({
      settings: { auth_type: 'trust', pool_mode: 'transaction', default_pool_size: 2, query_wait_timeout: 30 },
      databases: { [DB]: `host=${postgres.host} port=${postgres.port}` },
    });
    try {
      const run = runPgbench(['-c', '16', '-j', '2', '-T', '4', '-h', '127.0.0.1', '-p', String(p.port), '-U', 'postgres', DB]);
      await new Promise((r) => setTimeout(r, 1500));
      const ini = join(p.dir, 'pooler.ini');
      writeFileSync(ini, readFileSync(ini, 'utf8').replace('default_pool_size = 2', 'default_pool_size = 6'));
      p.child.kill('SIGHUP');
      let peak = 0;
      for (let i = 0; i < 10; i++) {
        peak = Math.max(peak, await postgres.backendCount(DB));
        await new Promise((r) => setTimeout(r, 150));
      }
      const result = await run;
      expect(result.code, result.stderr).toBe(0);
      expect(result.failed).toBe(0);
      expect(peak).toBeGreaterThan(2);
      expect(peak).toBeLessThanOrEqual(6);
    } finally {
      await p.stop();
    }
  });
});
