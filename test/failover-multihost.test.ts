// libpq-style multi-host failover without Patroni: `host=a,b port=p1,p2 target_session_attrs=...`
// against a real primary and a streaming standby. Under a write load of 50 clients the primary is
// stopped, the standby promoted with pg_ctl promote, and traffic follows it; every acknowledged
// write is on the new primary exactly once, and no write ever reached the standby.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalPostgres, startLocalStandby, type LocalPostgres } from '../src/demo/local-postgres.js';
import { freePort } from '../src/net/free-port.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { errorsBetweenTransactions, failoverFigures, startWriteLoad, uncleanErrors } from './support/write-load.js';

let primary: LocalPostgres;
let standby: LocalPostgres;
let pooler: PoolerProcess;
let metricsPort: number;

const HBA = ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'];

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  primary = await startLocalPostgres(await freePort(), HBA);
  await query(`postgres://postgres@127.0.0.1:${primary.port}/postgres`, 'CREATE TABLE acked (id text PRIMARY KEY, client int)');
  standby = await startLocalStandby(primary, await freePort());
  // synchronous replication: an acknowledged commit is on the standby too, so none may go missing
  const admin = `postgres://postgres@127.0.0.1:${primary.port}/postgres`;
  await query(admin, "ALTER SYSTEM SET synchronous_standby_names = '*'");
  await query(admin, 'ALTER SYSTEM SET synchronous_commit = on');
  await query(admin, 'SELECT pg_reload_conf()');
  const hosts = `host=127.0.0.1,127.0.0.1 port=${primary.port},${standby.port} dbname=postgres`;
  metricsPort = await freePort();
  pooler = await startPooler({
    settings: {
      auth_type: 'trust',
      admin_users: 'postgres',
      pool_mode: 'transaction',
      default_pool_size: 5,
      failover_wait_timeout: 30,
      server_login_retry: 1,
      metrics_port: metricsPort,
    },
    databases: {
      rw: `${hosts} target_session_attrs=read-write`,
      ro: `${hosts} target_session_attrs=standby`,
      one: `host=127.0.0.1 port=${primary.port} dbname=postgres target_session_attrs=read-write`,
    },
  });
}, 120_000);

afterAll(async () => {
  await pooler?.stop();
  await standby?.stop();
  await primary?.stop();
});

describe('target_session_attrs over a host list', () => {
  it('holds a client while no host qualifies, then fails it cleanly at failover_wait_timeout', async () => {
    const held = await startPooler({
      settings: { auth_type: 'trust', failover_wait_timeout: 1 },
      databases: { nostandby: `host=127.0.0.1 port=${primary.port} dbname=postgres target_session_attrs=standby` },
    });
    try {
      const started = Date.now();
      await expect(query(held.url('nostandby'), 'SELECT 1')).rejects.toMatchObject({
        code: '08006',
        message: expect.stringContaining('no server with target_session_attrs=standby for database "nostandby" within 1 s (failover_wait_timeout)'),
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await held.stop();
    }
  });

  it('sends read-write to the primary and standby to the standby, whatever the order', async () => {
    expect((await query(pooler.url('rw'), 'SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
    expect((await query(pooler.url('ro'), 'SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
  });

  /**
   * Makes a server die at a chosen moment: its backend is stopped, the client's next statement
   * reaches it, pg_terminate_backend queues SIGTERM, and on SIGCONT PostgreSQL reads the statement
   * but ends the session (57P01) before running it. Returns the first statement's outcome.
   */
  async function killServerUnderStatement(client: pg.Client, statement: string): Promise<unknown> {
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const outcome = client.query(statement).then(
        () => 'ok',
        (error: Error) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await query(`postgres://postgres@127.0.0.1:${primary.port}/postgres`, `SELECT pg_terminate_backend(${pid})`);
      process.kill(pid, 'SIGCONT');
      return await outcome;
    } finally {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
  }

  it('sends a lone BEGIN again when its server dies before answering, so the client never sees it', async () => {
    const client = new pg.Client({ connectionString: pooler.url('one') });
    await client.connect();
    try {
      const before = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(await killServerUnderStatement(client, 'BEGIN')).toBe('ok');
      const during = (await client.query('SELECT pg_backend_pid() AS pid, now() = statement_timestamp() AS fresh')).rows[0];
      expect(during.pid).not.toBe(before);
      // still inside the transaction BEGIN opened: now() is its start, not this statement's
      expect(during.fresh).toBe(false);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  });

  it('fails a statement with effects whose server dies, naming the failover, and the client can go on', async () => {
    const client = new pg.Client({ connectionString: pooler.url('one') });
    client.on('error', () => {});
    await client.connect();
    try {
      const outcome = await killServerUnderStatement(client, 'SELECT 1');
      expect(outcome).toMatchObject({ code: '57P01', message: expect.stringContaining('pooler is following the failover') });
    } finally {
      await client.end().catch(() => {});
    }
    expect((await query(pooler.url('one'), 'SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('follows the primary to a promoted standby under a write load of 50 clients', async () => {
    const load = startWriteLoad(pooler.url('rw'), 50, 'acked');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const before = load.report.acknowledged.length;
    expect(before).toBeGreaterThan(0);

    const stoppedAt = Date.now();
    await primary.halt();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await standby.promote();
    const promotedAt = Date.now();
    const deadline = Date.now() + 20_000;
    while (!load.report.acknowledged.some((a) => a.at > promotedAt) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const report = await load.stop();

    const figures = failoverFigures('multi-host failover', report, promotedAt);
    console.log(`${figures.line}; primary stopped -> promoted ${promotedAt - stoppedAt} ms, ${before} commits before the stop`);
    expect(figures.firstWriteMs, 'no write was acknowledged after the promotion').not.toBeNull();
    // only the transactions in flight when the primary died fail, each with a clean error
    expect(report.errors.length).toBeLessThanOrEqual(50);
    expect(uncleanErrors(report)).toEqual([]);
    expect(errorsBetweenTransactions(report)).toEqual([]);

    // what an operator sees: SHOW TOPOLOGY and the metrics name the new target and count the move
    const topology = (await query(pooler.url('pgbouncer'), 'SHOW TOPOLOGY')).rows.filter((row) => row.database === 'rw');
    expect(topology[0]).toMatchObject({ discovery: 'multi-host', target: `127.0.0.1:${standby.port}` });
    expect(Number(topology[0].changes)).toBeGreaterThan(0);
    expect(topology.find((row) => row.current === 'yes')).toMatchObject({ port: standby.port, role: 'primary' });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`pooler_failover_primary{database="rw",host="127.0.0.1",port="${standby.port}"} 1`);
    expect(metrics).toMatch(/pooler_failover_role_changes_total\{database="rw"\} [1-9]/);

    const ids = report.acknowledged.map((a) => a.id);
    const { rows } = await query(`postgres://postgres@127.0.0.1:${standby.port}/postgres`, `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM acked WHERE id = ANY('{${ids.join(',')}}'::text[])`);
    expect(rows[0]).toEqual({ n: ids.length, d: ids.length });
  });
});
