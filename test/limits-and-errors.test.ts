// The errors a user meets at the edges, each with the SQLSTATE and message PostgreSQL users expect:
// a wrong password, one client too many, a cancelled query, waiting too long for a server, and
// sitting idle inside a transaction.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

/** the auth_file; the pooler also logs in to PostgreSQL with these, each role by another method (roles.ts) */
const PASSWORDS = {
  postgres: 'secret',
  trust_user: 'trustpass-never-checked',
  password_user: 'cleartextpass',
  md5_user: 'md5pass',
  scram_user: 'scrampass',
};

beforeAll(async () => {
  const target = `host=${postgres.host} port=${postgres.port} dbname=pooler_test`;
  pooler = await startPooler({
    settings: {
      auth_type: 'md5',
      pool_mode: 'transaction',
      default_pool_size: 2,
      max_client_conn: 5,
      query_wait_timeout: 1,
      verbose: 1,
      admin_users: 'postgres',
    },
    authFile: PASSWORDS,
    databases: { app: target, single: `${target} pool_size=1` },
    // only md5_user's transactions time out, so the other tests can hold one open
    users: { md5_user: 'idle_transaction_timeout=1' },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

function client(database: string, user = 'postgres', password = 'secret'): pg.Client {
  const c = new pg.Client({ connectionString: pooler.url(database, user, password) });
  c.on('error', () => undefined);
  return c;
}

describe('authentication', () => {
  it.each([
    ['trust_user', 'trust'],
    ['password_user', 'cleartext'],
    ['md5_user', 'md5'],
    ['scram_user', 'SCRAM-SHA-256'],
  ] as const)('accepts %s with md5 and logs in to a server that asks for %s', async (user, _serverMethod) => {
    const c = client('app', user, PASSWORDS[user]);
    await c.connect();
    const { rows } = await c.query('SELECT current_user AS u');
    expect(rows[0].u).toBe(user);
    await c.end();
  });

  it('rejects a wrong password with 28P01', async () => {
    await expect(client('app', 'postgres', 'wrong').connect()).rejects.toMatchObject({
      code: '28P01',
      message: 'password authentication failed for user "postgres"',
    });
  });

  it('rejects an unknown user exactly like a wrong password', async () => {
    await expect(client('app', 'nobody', 'x').connect()).rejects.toMatchObject({ code: '28P01' });
  });
});

describe('limits', () => {
  it('refuses client number max_client_conn + 1 with 53300', async () => {
    await new Promise((r) => setTimeout(r, 200)); // let the pooler see earlier tests' clients go
    const held = Array.from({ length: 5 }, () => client('app'));
    await Promise.all(held.map((c) => c.connect()));
    await expect(client('app').connect()).rejects.toMatchObject({
      code: '53300',
      message: expect.stringContaining('max_client_conn'),
    });
    // the console is exempt, so an operator can still see what is going on
    const admin = client('pgbouncer');
    await admin.connect();
    const { rows } = await admin.query('SHOW POOLS');
    expect(rows.find((r) => r.database === 'app' && r.user === 'postgres')!.cl_active).toBe(5);
    await admin.end();
    await Promise.all(held.map((c) => c.end()));
  });

  it('ends a client that waits longer than query_wait_timeout for a server', async () => {
    const [holder, waiter] = await holderAndWaiter();
    const started = Date.now();
    await expect(waiter.query('SELECT 1')).rejects.toMatchObject({ message: expect.stringContaining('query_wait_timeout') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await holder.query('COMMIT');
    await holder.end();
  });

  it('ends a client idle in a transaction longer than idle_transaction_timeout, and frees its server', async () => {
    const idle = client('single', 'md5_user', 'md5pass');
    await idle.connect();
    await idle.query('BEGIN');
    await new Promise((r) => setTimeout(r, 1800));
    await expect(idle.query('SELECT 1')).rejects.toThrow();
    const next = client('single', 'md5_user', 'md5pass');
    await next.connect();
    const { rows } = await next.query('SELECT 1 AS ok');
    expect(rows[0].ok).toBe(1);
    await next.end();
  });
});

describe('cancel', () => {
  it('cancels pg_sleep(10) through the pooler within a second with 57014', async () => {
    const c = client('app');
    await c.connect();
    const started = Date.now();
    const sleeping = c.query('SELECT pg_sleep(10)');
    await new Promise((r) => setTimeout(r, 300));
    await cancel(c);
    await expect(sleeping).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(1300);
    const { rows } = await c.query('SELECT 2 AS after');
    expect(rows[0].after).toBe(2);
    await c.end();
  });

  it('cancels a query still waiting for a server: 57014 at once, and it never runs (PgBouncer runs it later)', async () => {
    const [holder, waiter] = await holderAndWaiter();
    const started = Date.now();
    // the answer may come before the cancel's own connection has closed: caught from the start
    const queued = waiter.query("SELECT set_config('application_name', 'canceled-but-ran', false)").then(
      () => null,
      (error: unknown) => error,
    );
    await new Promise((r) => setTimeout(r, 300));
    await cancel(waiter);
    expect(await queued).toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(1300);
    await holder.query('COMMIT');
    const { rows } = await waiter.query('SELECT current_setting(\'application_name\') AS name');
    expect(rows[0].name).not.toBe('canceled-but-ran');
    await Promise.all([holder.end(), waiter.end()]);
  });

  it('ignores a cancel for an idle client, even when its last server now runs another client\'s query', async () => {
    const idle = client('single');
    await idle.connect();
    await idle.query('SELECT 1');
    const busy = client('single');
    await busy.connect();
    const sleeping = busy.query('SELECT pg_sleep(1) AS slept');
    await new Promise((r) => setTimeout(r, 300));
    await cancel(idle);
    await expect(sleeping).resolves.toMatchObject({ rows: [{ slept: '' }] });
    await Promise.all([idle.end(), busy.end()]);
  });
});

/** two clients of the database whose pool has one server: the first holds it in a transaction */
async function holderAndWaiter(): Promise<[pg.Client, pg.Client]> {
  const holder = client('single');
  await holder.connect();
  await holder.query('BEGIN');
  const waiter = client('single');
  await waiter.connect();
  return [holder, waiter];
}

/** a CancelRequest with the key the pooler gave this client, as node-postgres received it */
function cancel(c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  return sendCancelRequest(pooler.port, processID, secretKey);
}

function sendCancelRequest(port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4); // CancelRequest code
      packet.writeInt32BE(processId, 8);
      packet.writeInt32BE(secretKey, 12);
      socket.end(packet);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('logging', () => {
  it('never writes a password to the log, even at debug level', async () => {
    await client('app', 'md5_user', 'a-wrong-password-xyz').connect().catch(() => undefined);
    const log = readFileSync(pooler.logFile, 'utf8');
    expect(log).toContain('md5_user');
    for (const secret of [...Object.values(PASSWORDS), 'a-wrong-password-xyz']) expect(log).not.toContain(secret);
  });
});
