// The admin console as operators and exporters use it: PgBouncer 1.25.2's SHOW columns and types,
// counts that match what is happening, PAUSE/RESUME under load, KILL, KILL_CLIENT, RECONNECT,
// RELOAD, SET, access rules, and — beyond PgBouncer — SHOW over the extended protocol.
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPostgres } from './harness/context.js';
import { runPgbench, runTool } from './harness/tools.js';
import { startPooler, type PoolerProcess } from './support/pooler-process.js';
import { waitUntil } from './support/wait.js';

const postgres = getPostgres();
let pooler: PoolerProcess;

const TEXT = 25;
const INT4 = 23;
const NUMERIC = 1700;

beforeAll(async () => {
  await postgres.createDatabase('console_db');
  await postgres.createDatabase('console_other');
  pooler = await startPooler({
    settings: {
      auth_type: 'trust',
      pool_mode: 'transaction',
      default_pool_size: 2,
      admin_users: 'postgres',
      stats_users: 'trust_user',
      stats_period: 1,
      query_wait_timeout: 60,
    },
    databases: {
      app: `host=${postgres.host} port=${postgres.port} dbname=console_db`,
      other: `host=${postgres.host} port=${postgres.port} dbname=console_other`,
    },
  });
});

afterAll(async () => {
  await pooler?.stop();
});

async function client(database: string, user = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pooler.url(database, user) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** runs a console command through psql (simple protocol, as PgBouncer users do) */
async function console_(command: string, user = 'postgres'): Promise<{ code: number; stdout: string; stderr: string }> {
  return runTool('psql', ['-X', '-A', '-F', '|', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', user, 'pgbouncer', '-c', command]);
}

/** the rows of a SHOW as objects, through node-postgres' simple protocol */
async function show(what: string): Promise<Record<string, unknown>[]> {
  const admin = await client('pgbouncer');
  const { rows } = await admin.query(`SHOW ${what}`);
  await admin.end();
  return rows;
}

describe('SHOW columns and types are PgBouncer 1.25.2\'s', () => {
  const SOCKET = [
    ['type', TEXT], ['user', TEXT], ['database', TEXT], ['replication', TEXT], ['state', TEXT], ['addr', TEXT], ['port', INT4],
    ['local_addr', TEXT], ['local_port', INT4], ['connect_time', TEXT], ['request_time', TEXT], ['wait', INT4], ['wait_us', INT4],
    ['close_needed', INT4], ['ptr', TEXT], ['link', TEXT], ['remote_pid', INT4], ['tls', TEXT], ['application_name', TEXT],
    ['prepared_statements', INT4], ['id', INT4],
    // pooler's own, after PgBouncer's 21: exporters read columns by name, so extra ones at the end are safe
    ['pinned', INT4], ['pin_reason', TEXT],
  ];
  const STATS_STEMS = ['server_assignment_count', 'xact_count', 'query_count', 'received', 'sent', 'xact_time', 'query_time', 'wait_time', 'client_parse_count', 'server_parse_count', 'bind_count'];
  const EXPECTED: Record<string, (string | number)[][]> = {
    POOLS: [
      ['database', TEXT], ['user', TEXT], ['cl_active', INT4], ['cl_waiting', INT4], ['cl_active_cancel_req', INT4],
      ['cl_waiting_cancel_req', INT4], ['sv_active', INT4], ['sv_active_cancel', INT4], ['sv_being_canceled', INT4],
      ['sv_idle', INT4], ['sv_used', INT4], ['sv_tested', INT4], ['sv_login', INT4], ['maxwait', INT4], ['maxwait_us', INT4],
      ['pool_mode', TEXT], ['load_balance_hosts', TEXT],
    ],
    STATS: [
      ['database', TEXT],
      ...STATS_STEMS.map((n) => [`total_${n}`, NUMERIC]),
      ...STATS_STEMS.map((n) => [`avg_${n === 'received' ? 'recv' : n}`, NUMERIC]),
    ],
    STATS_TOTALS: [['database', TEXT], ...STATS_STEMS.map((n) => [n === 'received' || n === 'sent' ? `bytes_${n}` : n, NUMERIC])],
    STATS_AVERAGES: [
      ['database', TEXT],
      ...STATS_STEMS.map((n, i) => [i >= 8 ? `avg_${n}` : n === 'received' || n === 'sent' ? `bytes_${n}` : n, NUMERIC]),
    ],
    TOTALS: [['name', TEXT], ['value', NUMERIC]],
    CLIENTS: SOCKET,
    SERVERS: SOCKET,
    DATABASES: [
      ['name', TEXT], ['host', TEXT], ['port', INT4], ['database', TEXT], ['force_user', TEXT], ['pool_size', INT4],
      ['min_pool_size', INT4], ['reserve_pool_size', INT4], ['server_lifetime', INT4], ['pool_mode', TEXT],
      ['load_balance_hosts', TEXT], ['max_connections', INT4], ['current_connections', INT4], ['max_client_connections', INT4],
      ['current_client_connections', INT4], ['paused', INT4], ['disabled', INT4],
    ],
    USERS: [
      ['name', TEXT], ['pool_size', TEXT], ['reserve_pool_size', TEXT], ['pool_mode', TEXT], ['max_user_connections', INT4],
      ['current_connections', INT4], ['max_user_client_connections', INT4], ['current_client_connections', INT4],
    ],
    LISTS: [['list', TEXT], ['items', INT4]],
    CONFIG: [['key', TEXT], ['value', TEXT], ['default', TEXT], ['changeable', TEXT]],
    VERSION: [['version', TEXT]],
    STATE: [['key', TEXT], ['value', TEXT]],
  };

  it.each(Object.keys(EXPECTED))('SHOW %s', async (what) => {
    const admin = await client('pgbouncer');
    const result = await admin.query(`SHOW ${what}`);
    await admin.end();
    expect(result.fields.map((f) => [f.name, f.dataTypeID])).toEqual(EXPECTED[what]);
  });

  it('SHOW LISTS names its rows in PgBouncer\'s order', async () => {
    expect((await show('LISTS')).map((r) => r.list)).toEqual([
      'databases', 'users', 'peers', 'pools', 'peer_pools', 'free_clients', 'used_clients', 'login_clients',
      'free_servers', 'used_servers', 'dns_names', 'dns_zones', 'dns_queries', 'dns_pending',
    ]);
  });
});

describe('counts match reality', () => {
  it('shows clients waiting and servers active while pgbench runs 10 clients over a pool of 2', async () => {
    const init = await runPgbench(['-i', '-s', '1', '-q', '-h', postgres.host, '-p', String(postgres.port), '-U', 'postgres', 'console_db']);
    expect(init.code, init.stderr).toBe(0);
    const run = runPgbench(['-c', '10', '-T', '3', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', 'app']);
    const seen = await waitUntil(
      async () => (await show('POOLS')).find((r) => r.database === 'app' && r.user === 'postgres'),
      (row) => row !== undefined && Number(row.cl_waiting) > 0 && Number(row.sv_active) === 2,
      'cl_waiting > 0 with both servers active',
    );
    expect(Number(seen!.cl_active) + Number(seen!.cl_waiting)).toBe(10);
    const result = await run;
    expect(result.failed).toBe(0);
    const stats = (await show('STATS')).find((r) => r.database === 'app')!;
    expect(Number(stats.total_xact_count)).toBeGreaterThanOrEqual(Number(result.stdout.match(/processed: (\d+)/)![1]));
    expect(Number(stats.total_received)).toBeGreaterThan(0);
    expect(Number(stats.total_wait_time)).toBeGreaterThan(0);
    const latency = (await show('LATENCY')).find((r) => r.database === 'app')!;
    expect(Number(latency.xact_p99_us)).toBeGreaterThan(0);
    expect(Number(latency.wait_p99_us)).toBeGreaterThanOrEqual(Number(latency.wait_p50_us));
  });

  it('lists a connected client in SHOW CLIENTS and its server in SHOW SERVERS, linked to each other', async () => {
    const c = await client('other');
    await c.query('BEGIN');
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const server = (await show('SERVERS')).find((r) => r.remote_pid === pid)!;
    expect(server).toMatchObject({ type: 'S', database: 'other', state: 'active' });
    const linked = (await show('CLIENTS')).find((r) => r.ptr === server.link)!;
    expect(linked).toMatchObject({ type: 'C', database: 'other', state: 'active', link: server.ptr });
    await c.query('COMMIT');
    await c.end();
  });
});

describe('control commands', () => {
  it('PAUSE under load holds queries without failing them, RESUME lets them run', async () => {
    const run = runPgbench(['-c', '4', '-T', '4', '-S', '-h', '127.0.0.1', '-p', String(pooler.port), '-U', 'postgres', 'app']);
    await new Promise((r) => setTimeout(r, 800));
    const paused = await console_('PAUSE app');
    expect(paused.stdout.trim(), paused.stderr).toBe('PAUSE');
    expect(await postgres.backendCount('console_db')).toBe(0);
    const held = (await show('POOLS')).find((r) => r.database === 'app')!;
    expect(Number(held.cl_waiting)).toBeGreaterThan(0);
    expect((await show('DATABASES')).find((r) => r.name === 'app')!.paused).toBe(1);
    expect((await console_('RESUME app')).stdout.trim()).toBe('RESUME');
    const result = await run;
    expect(result.code, result.stderr).toBe(0);
    expect(result.failed).toBe(0);
  });

  it('a cancel (Ctrl-C) on a console waiting in PAUSE resumes, as PgBouncer does', async () => {
    const holder = await client('other');
    await holder.query('BEGIN');
    const admin = await client('pgbouncer');
    const pausing = admin.query('PAUSE other');
    await new Promise((r) => setTimeout(r, 300));
    const { processID, secretKey } = admin as unknown as { processID: number; secretKey: number };
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: pooler.port }, () => {
        const packet = Buffer.alloc(16);
        packet.writeInt32BE(16, 0);
        packet.writeInt32BE(80877102, 4);
        packet.writeInt32BE(processID, 8);
        packet.writeInt32BE(secretKey, 12);
        socket.end(packet);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await expect(pausing).rejects.toMatchObject({ code: '57014', message: 'PAUSE cancelled: resumed' });
    expect((await show('STATE'))[1]).toEqual({ key: 'paused', value: 'no' });
    expect((await holder.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await holder.query('COMMIT');
    await Promise.all([holder.end(), admin.end()]);
  });

  it('RECONNECT marks servers to close when released; WAIT_CLOSE returns once they are gone', async () => {
    const c = await client('other');
    await c.query('BEGIN');
    const before = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    expect((await console_('RECONNECT other')).stdout.trim()).toBe('RECONNECT');
    expect((await show('SERVERS')).find((r) => r.remote_pid === before)!.close_needed).toBe(1);
    const waiting = console_('WAIT_CLOSE other');
    await c.query('COMMIT');
    expect((await waiting).stdout.trim()).toBe('WAIT_CLOSE');
    const after = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    expect(after).not.toBe(before);
    await c.end();
  });

  it('KILL_CLIENT drops one client by its SHOW CLIENTS id, and nobody else', async () => {
    const victim = await client('other');
    const bystander = await client('other');
    await victim.query("SET application_name = 'kill_me'");
    const row = (await show('CLIENTS')).find((r) => r.application_name === 'kill_me')!;
    expect((await console_(`KILL_CLIENT ${row.id}`)).stdout.trim()).toBe('KILL_CLIENT');
    await expect(victim.query('SELECT 1')).rejects.toThrow();
    expect((await bystander.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await bystander.end();
  });

  it('KILL drops a database\'s clients and servers and leaves it paused until RESUME', async () => {
    const c = await client('other');
    await c.query('SELECT 1');
    expect((await console_('KILL other')).stdout.trim()).toBe('KILL');
    await expect(c.query('SELECT 1')).rejects.toThrow();
    const waiting = client('other').then((w) => w.query('SELECT 2 AS after').then((r) => w.end().then(() => r.rows[0].after)));
    await new Promise((r) => setTimeout(r, 500));
    expect(await postgres.backendCount('console_other')).toBe(0);
    expect((await console_('RESUME other')).stdout.trim()).toBe('RESUME');
    expect(await waiting).toBe(2);
  });

  it('DISABLE refuses new logins to a database until ENABLE', async () => {
    expect((await console_('DISABLE other')).stdout.trim()).toBe('DISABLE');
    await expect(client('other')).rejects.toThrow('database "other" is disabled');
    expect((await console_('ENABLE other')).stdout.trim()).toBe('ENABLE');
    const c = await client('other');
    await c.end();
  });

  it('SET changes a setting at runtime and SHOW CONFIG reports it; a startup-only one is refused', async () => {
    expect((await console_("SET server_check_query = 'select 2'")).stdout.trim()).toBe('SET');
    expect((await show('CONFIG')).find((r) => r.key === 'server_check_query')!.value).toBe('select 2');
    const refused = await console_('SET listen_port = 7777');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('listen_port');
  });

  it('SET of a pool setting applies at once to a pool that already exists: after SET pool_mode = session a client keeps its server', async () => {
    const c = await client('other');
    const otherPool = async () => (await show('POOLS')).find((r) => r.database === 'other' && r.user === 'postgres')!;
    try {
      await c.query('SELECT 1');
      expect(await otherPool()).toMatchObject({ pool_mode: 'transaction', sv_active: 0 });
      expect((await console_('SET pool_mode = session')).stdout.trim()).toBe('SET');
      await c.query('SELECT 1');
      expect(await otherPool()).toMatchObject({ pool_mode: 'session', sv_active: 1 });
    } finally {
      await console_('SET pool_mode = transaction');
      await c.end();
    }
  });

  it('RELOAD picks up a changed pool size from the file; a broken file fails with F0000', async () => {
    const ini = join(pooler.dir, 'pooler.ini');
    const original = readFileSync(ini, 'utf8');
    writeFileSync(ini, original.replace('default_pool_size = 2', 'default_pool_size = 3'));
    expect((await console_('RELOAD')).stdout.trim()).toBe('RELOAD');
    expect((await show('CONFIG')).find((r) => r.key === 'default_pool_size')!.value).toBe('3');
    writeFileSync(ini, original + 'not a setting line\n');
    const admin = await client('pgbouncer');
    await expect(admin.query('RELOAD')).rejects.toMatchObject({ code: 'F0000', message: 'RELOAD failed, see logs' });
    await admin.end();
    writeFileSync(ini, original);
    expect((await console_('RELOAD')).stdout.trim()).toBe('RELOAD');
  });
});

describe('access and protocol', () => {
  it('lets a stats_user SHOW but not run control commands', async () => {
    expect((await console_('SHOW VERSION', 'trust_user')).stdout).toContain('PgBouncer 1.25.2 compatible');
    const refused = await console_('PAUSE', 'trust_user');
    expect(refused.stderr).toContain('admin access needed');
  });

  it('refuses a user in neither admin_users nor stats_users with 28000', async () => {
    const c = new pg.Client({ connectionString: pooler.url('pgbouncer', 'md5_user') });
    await expect(c.connect()).rejects.toMatchObject({ code: '28000' });
  });

  it('answers SHOW over the extended protocol (node-postgres with parameters), which PgBouncer cannot', async () => {
    const admin = await client('pgbouncer');
    const result = await admin.query({ text: 'SHOW POOLS', queryMode: 'extended' } as pg.QueryConfig);
    expect(result.fields[0]!.name).toBe('database');
    expect(result.rows.some((r) => r.database === 'pgbouncer')).toBe(true);
    const prepared = await admin.query({ name: 'pools', text: 'SHOW LISTS', values: [] });
    expect(prepared.rows[0]).toEqual({ list: 'databases', items: 3 });
    await expect(admin.query('SHOW NOTHING')).rejects.toThrow('unsupported SHOW cmd: nothing');
    expect((await admin.query('SHOW STATE')).rows[0]).toEqual({ key: 'active', value: 'yes' });
    await admin.end();
  });

  it('gives a clear error for a command it does not know, and keeps the session', async () => {
    const admin = await client('pgbouncer');
    await expect(admin.query('SELECT * FROM pg_class')).rejects.toThrow('use SHOW HELP');
    expect((await admin.query('SHOW VERSION')).rows).toHaveLength(1);
    await admin.end();
  });

  it('SHUTDOWN WAIT_FOR_CLIENTS lets connected clients finish, then exits', async () => {
    const own = await startPooler({
      settings: { auth_type: 'trust', admin_users: 'postgres' },
      databases: { app: `host=${postgres.host} port=${postgres.port} dbname=pooler_test` },
    });
    const c = new pg.Client({ connectionString: own.url('app') });
    await c.connect();
    const admin = new pg.Client({ connectionString: own.url('pgbouncer') });
    await admin.connect();
    await admin.query('SHUTDOWN WAIT_FOR_CLIENTS');
    await admin.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(own.child.exitCode).toBeNull();
    expect((await c.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await c.end();
    expect(await own.exited).toBe(0);
    await own.stop();
  });
});
