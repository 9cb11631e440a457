// Loading pooler.ini end to end: sections, defaults, warnings for unsupported keys, file:line errors.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeScratchDirs, scratchDir } from '../testing/scratch-dir.js';
import { ConfigError, loadConfig } from './index.js';

afterAll(removeScratchDirs);

function tempDir(): string {
  return scratchDir('pooler-config-');
}

/** write `text` as `name` in a fresh directory and load it from there, with an empty environment */
function load(text: string, name = 'pooler.ini', env: Record<string, string> = {}) {
  const dir = tempDir();
  writeFileSync(path.join(dir, name), text);
  return loadConfig({ file: name, env, cwd: dir });
}

/** the 1-based number of the first line of `text` starting with `prefix` */
function lineOf(text: string, prefix: string): number {
  return text.split('\n').findIndex((line) => line.startsWith(prefix)) + 1;
}

function loadError(text: string, name = 'pooler.ini'): ConfigError {
  try {
    load(text, name);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

// In the style of PgBouncer's own etc/pgbouncer.ini, with keys pooler ignores mixed in.
const PGBOUNCER_INI = `;; database name = connect string
;;
;; connect string params:
;;   dbname= host= port= user= password= auth_user=
;;   client_encoding= datestyle= timezone=
;;   pool_size= reserve_pool= max_db_connections=
;;   pool_mode= connect_query= application_name=
[databases]

; foodb over Unix socket
foodb =

; redirect bardb to bazdb on localhost
bardb = host=localhost dbname=bazdb

; access to dest database will go with single user
forcedb = host=127.0.0.1 port=5433 user=baz password=foo client_encoding=UNICODE datestyle=ISO connect_query='SELECT 1'

; use custom pool sizes
nondefaultdb = pool_size=50 reserve_pool=10

; use auth_user with auth_query if user not present in auth_file
foodb2 = auth_user=bar

; fallback connect string
* = host=testserver

;; Set up per-user settings
[users]
user1 = pool_mode=transaction max_user_connections=10
user2 = pool_mode=session query_timeout=30

;; Configuration section
[pgbouncer]
logfile = /var/log/pgbouncer/pgbouncer.log
pidfile = /var/run/pgbouncer/pgbouncer.pid
listen_addr = *
listen_port = 6432
unix_socket_dir = /var/run/postgresql
auth_type = md5
auth_file = /etc/pgbouncer/userlist.txt
admin_users = postgres
stats_users = stats, postgres
pool_mode = session
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
server_check_query = select 1
server_check_delay = 30
max_client_conn = 100
default_pool_size = 20
reserve_pool_timeout = 3
server_lifetime = 3600
server_idle_timeout = 600
query_wait_timeout = 120
client_tls_sslmode = disable
server_tls_sslmode = prefer
so_reuseport = 0
max_prepared_statements = 100
tcp_keepidle = 0
syslog = 0
`;

describe('loadConfig: a PgBouncer config', () => {
  it('loads an existing pgbouncer.ini unchanged', () => {
    const config = load(PGBOUNCER_INI, 'pgbouncer.ini');
    const s = config.settings;
    expect(s.listen_addr).toBe('*');
    expect(s.listen_port).toBe(6432);
    expect(s.auth_type).toBe('md5');
    expect(s.auth_file).toBe('/etc/pgbouncer/userlist.txt');
    expect(s.admin_users).toEqual(['postgres']);
    expect(s.stats_users).toEqual(['stats', 'postgres']);
    expect(s.ignore_startup_parameters).toEqual(['extra_float_digits']);
    expect(s.server_check_query).toBe('select 1');
    expect(s.reserve_pool_timeout).toBe(3000);
    expect(s.default_pool_size).toBe(20);
    expect(s.default_pool_size_auto).toBe(false);
    expect(config.origins.get('listen_addr')).toBe(`pgbouncer.ini:${lineOf(PGBOUNCER_INI, 'listen_addr')}`);
    expect(config.origins.get('verbose')).toBe('default');
    expect(config.file).toMatch(/pgbouncer\.ini$/);
    expect(path.isAbsolute(config.file!)).toBe(true);
  });

  it('reads [databases] with PgBouncer defaults', () => {
    const config = load(PGBOUNCER_INI, 'pgbouncer.ini');
    expect([...config.databases.keys()]).toEqual(['foodb', 'bardb', 'forcedb', 'nondefaultdb', 'foodb2']);
    // no host: the Unix socket directory; no dbname: the entry's name
    expect(config.databases.get('foodb')).toMatchObject({ host: '/var/run/postgresql', port: 5432, dbname: 'foodb', user: null });
    expect(config.databases.get('bardb')).toMatchObject({ host: 'localhost', dbname: 'bazdb' });
    expect(config.databases.get('forcedb')).toMatchObject({
      host: '127.0.0.1',
      port: 5433,
      user: 'baz',
      password: 'foo',
      connect_query: 'SELECT 1',
      startup_parameters: { client_encoding: 'UNICODE', DateStyle: 'ISO' },
    });
    expect(config.databases.get('nondefaultdb')).toMatchObject({ pool_size: 50, reserve_pool_size: 10 });
    expect(config.databases.get('foodb2')?.auth_user).toBe('bar');
    expect(config.fallback).toMatchObject({ name: '*', host: 'testserver', port: 5432, dbname: '' });
    expect(config.origins.get('databases.bardb')).toBe(`pgbouncer.ini:${lineOf(PGBOUNCER_INI, 'bardb')}`);
  });

  it('reads [users]', () => {
    const config = load(PGBOUNCER_INI, 'pgbouncer.ini');
    expect(config.users.get('user1')).toMatchObject({ pool_mode: 'transaction', max_user_connections: 10, pool_size: null });
    expect(config.users.get('user2')).toMatchObject({ pool_mode: 'session', query_timeout: 30_000 });
    expect(config.origins.get('users.user1')).toBe(`pgbouncer.ini:${lineOf(PGBOUNCER_INI, 'user1')}`);
  });

  it('says where read_write_split and load_balance change nothing', () => {
    const config = load(
      '[databases]\napp = host=h1,h2 port=5432 read_write_split=on load_balance=round_robin\none = host=h1 read_write_split=on\nsess = host=h1,h2 read_write_split=on pool_mode=session\nro = host=h1,h2 port=5432 target_session_attrs=standby load_balance=round_robin weight=2,1\nrw = host=h1,h2 port=5432 load_balance=round_robin\n[pooler]\nload_balance = round_robin\npool_mode = transaction\n',
      'pooler.ini',
    );
    const split = config.warnings.filter((w) => w.includes('read_write_split') && !w.includes('only balance'));
    expect(split.map((w) => w.split(':')[0])).toEqual(['database "one"', 'database "sess"']);
    const unbalanced = config.warnings.filter((w) => w.includes('only balance an entry'));
    expect(unbalanced.map((w) => w.split(':')[0])).toEqual(['database "rw"']);
  });

  it('accepts the PgBouncer settings it does not support, with a warning naming file:line', () => {
    const config = load(PGBOUNCER_INI, 'pgbouncer.ini');
    expect(config.warnings).toContain(
      `pgbouncer.ini:${lineOf(PGBOUNCER_INI, 'so_reuseport')}: "so_reuseport" is a PgBouncer setting pooler does not support yet; it is ignored`,
    );
    const ignored = config.warnings.filter((w) => w.includes('does not support yet')).map((w) => /"([^"]+)"/.exec(w)![1]);
    // client_tls_sslmode and server_tls_sslmode are implemented now, so they load without a warning
    expect(ignored).toEqual(['so_reuseport', 'syslog']);
    expect(config.settings.client_tls_sslmode).toBe('disable');
  });

  it('treats [pooler] and [pgbouncer] as one section', () => {
    const config = load('[pooler]\npool_mode = transaction\n[pgbouncer]\nmax_client_conn = 7\n[databases]\n* = host=x\n');
    expect(config.settings.pool_mode).toBe('transaction');
    expect(config.settings.max_client_conn).toBe(7);
  });

  it('lets a later line win, and records that line as the origin', () => {
    const config = load('[pooler]\npool_mode = transaction\npool_mode = statement\n[databases]\n* = host=x\n');
    expect(config.settings.pool_mode).toBe('statement');
    expect(config.origins.get('pool_mode')).toBe('pooler.ini:3');
  });

  it('accepts [peers] with a warning and ignores its entries', () => {
    const config = load('[peers]\n1 = host=/tmp/pgbouncer1\n[databases]\n* = host=x\n');
    expect(config.warnings[0]).toBe('pooler.ini:1: [peers] is a PgBouncer section pooler does not support (no peering); its entries are ignored');
  });

  it('warns for ignored [databases] and [users] parameters', () => {
    const config = load('[pooler]\nauth_type = trust\n[databases]\na = host=x max_db_client_connections=5 load_balance_hosts=disable\n[users]\nu = query_wait_timeout=5 max_user_client_connections=1\n');
    expect(config.warnings).toEqual([
      'pooler.ini:4: database "a": "max_db_client_connections" is a PgBouncer parameter pooler does not support yet; it is ignored',
      'pooler.ini:4: database "a": "load_balance_hosts" is a PgBouncer parameter pooler does not support yet; it is ignored',
      'pooler.ini:6: user "u": "query_wait_timeout" is a PgBouncer parameter pooler does not support yet; it is ignored',
      'pooler.ini:6: user "u": "max_user_client_connections" is a PgBouncer parameter pooler does not support yet; it is ignored',
    ]);
  });

  it('reads every [databases] key', () => {
    const config = load(
      `[databases]\nall = dbname=real host=db1,db2 port=6543,6544 target_session_attrs=read-write patroni=http://p1:8008,http://p2:8008 user=u password='p w' pool_size=3 min_pool_size=1 reserve_pool_size=2 pool_mode=statement max_db_connections=9 server_lifetime=60 connect_query='SET x = 1' auth_user=a auth_query='SELECT usename, passwd FROM pg_shadow WHERE usename=$1' auth_dbname=authdb load_balance=weighted_round_robin read_write_split=on read_your_writes=off max_replica_lag=8MB replica_fallback=wait client_encoding=UTF8 datestyle=ISO,MDY timezone=UTC application_name=app1\n`,
    );
    expect(config.databases.get('all')).toEqual({
      name: 'all',
      host: 'db1',
      port: 6543,
      hosts: [
        { host: 'db1', port: 6543 },
        { host: 'db2', port: 6544 },
      ],
      target_session_attrs: 'read-write',
      patroni: ['http://p1:8008', 'http://p2:8008'],
      dbname: 'real',
      user: 'u',
      password: 'p w',
      pool_size: 3,
      min_pool_size: 1,
      reserve_pool_size: 2,
      pool_mode: 'statement',
      max_db_connections: 9,
      server_lifetime: 60_000,
      connect_query: 'SET x = 1',
      auth_user: 'a',
      auth_query: 'SELECT usename, passwd FROM pg_shadow WHERE usename=$1',
      auth_dbname: 'authdb',
      load_balance: 'weighted_round_robin',
      weight: [],
      read_write_split: true,
      read_your_writes: 'off',
      max_replica_lag: { bytes: 8 * 1024 * 1024, ms: 0 },
      replica_fallback: 'wait',
      startup_parameters: { client_encoding: 'UTF8', DateStyle: 'ISO,MDY', TimeZone: 'UTC', application_name: 'app1' },
    });
  });

  it('reads the read-replica keys: globals in [pooler], overrides and weights per database', () => {
    const config = load(
      '[pooler]\nload_balance = least_connections\nhealth_check_period = 5\nserver_ban_time = 30s\nserver_ban_failures = 5\nmax_replica_lag = 10s\nreplica_fallback = wait\nread_write_split = 1\nread_your_writes = off\nreplica_lsn_poll_interval = 250ms\n[databases]\nsame = host=a,b,c weight=2\nplain = host=a\n',
    );
    expect(config.settings).toMatchObject({
      load_balance: 'least_connections',
      health_check_period: 5000,
      server_ban_time: 30_000,
      server_ban_failures: 5,
      max_replica_lag: { bytes: 0, ms: 10_000 },
      replica_fallback: 'wait',
      read_write_split: true,
      read_your_writes: 'off',
      replica_lsn_poll_interval: 250,
    });
    expect(config.origins.get('server_ban_time')).toBe('pooler.ini:4');
    expect(config.databases.get('same')!.weight).toEqual([2, 2, 2]);
    expect(config.databases.get('plain')).toMatchObject({ weight: [], load_balance: null, read_write_split: null, max_replica_lag: null });
  });

  it('reads every [users] key', () => {
    const config = load('[users]\nbob = pool_mode=transaction pool_size=4 reserve_pool_size=1 max_user_connections=8 query_timeout=2.5 idle_transaction_timeout=10 transaction_timeout=60 client_idle_timeout=300\n[databases]\n* = host=x\n');
    expect(config.users.get('bob')).toEqual({
      name: 'bob',
      pool_mode: 'transaction',
      pool_size: 4,
      reserve_pool_size: 1,
      max_user_connections: 8,
      query_timeout: 2500,
      idle_transaction_timeout: 10_000,
      transaction_timeout: 60_000,
      client_idle_timeout: 300_000,
    });
  });

  it('reads the TCP settings and says what Node cannot apply of them', () => {
    const config = load('[pooler]\ntcp_keepidle = 60\ntcp_keepintvl = 5\ntcp_keepcnt = 3\ntcp_user_timeout = 30000\ntransaction_timeout = 90\n[databases]\n* = host=x\n');
    expect(config.settings).toMatchObject({ tcp_keepidle: 60, tcp_keepintvl: 5, tcp_keepcnt: 3, tcp_user_timeout: 30_000, transaction_timeout: 90_000 });
    const tcp = config.warnings.filter((w) => w.startsWith('tcp_'));
    expect(tcp).toEqual([
      'tcp_keepintvl = 5, tcp_keepcnt = 3: not applied, Node cannot set TCP_KEEPINTVL or TCP_KEEPCNT; with tcp_keepidle = 60, Node probes every 1 s and gives up after 10 probes, so a dead peer is found about 70 s after the connection goes quiet',
      expect.stringMatching(/^tcp_user_timeout = 30000: Node cannot set TCP_USER_TIMEOUT; pooler enforces the part it can see, .* bound those with query_timeout or transaction_timeout$/),
    ]);
    expect(load('[pooler]\ntcp_keepidle = 60\n[databases]\n* = host=x\n').warnings.filter((w) => w.startsWith('tcp_'))).toEqual([
      'tcp_keepidle = 60 is applied, and Node sets the probe interval to 1 s and the count to 10 with it (Linux defaults: 75 s, 9), so a dead peer is found about 70 s after the connection goes quiet',
    ]);
    expect(load('[databases]\n* = host=x\n').warnings.filter((w) => w.startsWith('tcp_'))).toEqual([]);
    expect(() => load('[pooler]\ntcp_keepidle = 40000\n')).toThrow(/tcp_keepidle/);
  });

  it('keeps md5 as the default auth_type when a file is given, and warns if nobody can log in', () => {
    const config = load('[databases]\n* = host=127.0.0.1\n');
    expect(config.settings.auth_type).toBe('md5');
    expect(config.origins.get('auth_type')).toBe('default');
    expect(config.warnings.some((w) => w.startsWith('auth_type = md5 but there is no auth_file'))).toBe(true);
  });

  it('warns when no database is defined at all', () => {
    const config = load('[pooler]\nauth_type = trust\n');
    expect(config.warnings).toEqual([expect.stringMatching(/^no \[databases\] entries and no DATABASE_URL/)]);
  });
});

describe('loadConfig: times, sizes and auto', () => {
  it('stores times in milliseconds', () => {
    const config = load('[pooler]\nquery_wait_timeout = 0.5\nserver_lifetime = 1h\nclient_login_timeout = 1500ms\nstats_period = 15\n[databases]\n* = host=x\n');
    expect(config.settings.query_wait_timeout).toBe(500);
    expect(config.settings.server_lifetime).toBe(3_600_000);
    expect(config.settings.client_login_timeout).toBe(1500);
    expect(config.settings.stats_period).toBe(15_000);
  });

  it('resolves default_pool_size = auto from server_cores and effective_spindle_count, in any order', () => {
    const config = load('[pooler]\ndefault_pool_size = auto\nserver_cores = 8\neffective_spindle_count = 2\n[databases]\n* = host=x\n');
    expect(config.settings.default_pool_size).toBe(18);
    expect(config.settings.default_pool_size_auto).toBe(true);
    expect(config.origins.get('default_pool_size')).toBe('pooler.ini:2');
  });

  it('uses the default cores and spindles for auto', () => {
    const config = load('[pooler]\ndefault_pool_size = AUTO\n[databases]\n* = host=x\n');
    expect(config.settings.default_pool_size).toBe(9);
  });

  it('goes back to a fixed size when a later line says a number', () => {
    const config = load('[pooler]\ndefault_pool_size = auto\ndefault_pool_size = 5\nserver_cores = 16\n[databases]\n* = host=x\n');
    expect(config.settings.default_pool_size).toBe(5);
    expect(config.settings.default_pool_size_auto).toBe(false);
  });
});

describe('loadConfig: errors name file:line and key', () => {
  const cases: Array<[string, string, string, number, string]> = [
    [
      'bad pool_mode (the message the CLI prints)',
      '[pooler]\n\n\n\n\n\n\n\n\n\n\npool_mode = sesion\n',
      'pooler.ini:12: key "pool_mode": invalid value "sesion" (expected session, transaction or statement)',
      12,
      'pool_mode',
    ],
    [
      'bad auth_type',
      '[pooler]\nauth_type = ldap\n',
      'pooler.ini:2: key "auth_type": invalid value "ldap" (expected trust, any, plain, md5, scram-sha-256, cert or hba)',
      2,
      'auth_type',
    ],
    [
      'negative number',
      '[pooler]\nmax_client_conn = -5\n',
      'pooler.ini:2: key "max_client_conn": invalid value "-5" (expected a non-negative integer)',
      2,
      'max_client_conn',
    ],
    [
      'port out of range',
      '[pooler]\nlisten_port = 70000\n',
      'pooler.ini:2: key "listen_port": invalid value "70000" (expected an integer from 1 to 65535)',
      2,
      'listen_port',
    ],
    [
      'bad time, with a hint about trailing comments',
      '[pooler]\nquery_timeout = 30 ; seconds\n',
      'pooler.ini:2: key "query_timeout": invalid value "30 ; seconds" (expected a duration in seconds such as 30 or 0.5, or with a unit: 500ms, 30s, 5min, 1h); a comment must be on a line of its own',
      2,
      'query_timeout',
    ],
    [
      'bad boolean',
      '[pooler]\nlog_connections = maybe\n',
      'pooler.ini:2: key "log_connections": invalid value "maybe" (expected 0 or 1 (also on/off, true/false, yes/no))',
      2,
      'log_connections',
    ],
    [
      'bad pool size',
      '[pooler]\ndefault_pool_size = lots\n',
      'pooler.ini:2: key "default_pool_size": invalid value "lots" (expected a non-negative integer or auto (server_cores × 2 + effective_spindle_count))',
      2,
      'default_pool_size',
    ],
    ['zero cores', '[pooler]\nserver_cores = 0\n', 'pooler.ini:2: key "server_cores": invalid value "0" (expected an integer >= 1)', 2, 'server_cores'],
    ['unknown parameter, with a suggestion', '[pooler]\npool_mod = session\n', 'pooler.ini:2: unknown parameter "pool_mod" (did you mean "pool_mode"?)', 2, 'pool_mod'],
    ['unknown parameter', '[pooler]\nfrobnicate = 1\n', 'pooler.ini:2: unknown parameter "frobnicate"', 2, 'frobnicate'],
    [
      'the derived auto flag is not a parameter',
      '[pooler]\ndefault_pool_size_auto = 1\n',
      'pooler.ini:2: unknown parameter "default_pool_size_auto" (did you mean "default_pool_size"?)',
      2,
      'default_pool_size_auto',
    ],
    [
      'unknown section',
      '[pooler]\n[database]\n',
      'pooler.ini:2: unknown section [database] (expected [pooler], [pgbouncer], [databases], [users] or [peers])',
      2,
      '[database]',
    ],
    ['key before any section', 'pool_mode = session\n', 'pooler.ini:1: key "pool_mode" comes before any section header; put it under [pooler]', 1, 'pool_mode'],
    [
      'reserved database name pgbouncer',
      '[databases]\npgbouncer = host=x\n',
      'pooler.ini:2: database "pgbouncer": the name is reserved for the admin console; pick another name',
      2,
      'pgbouncer',
    ],
    [
      'reserved database name pooler',
      '[databases]\npooler = host=x\n',
      'pooler.ini:2: database "pooler": the name is reserved for the admin console; pick another name',
      2,
      'pooler',
    ],
    [
      'unknown connection parameter',
      '[databases]\napp = host=x sslmode=require\n',
      'pooler.ini:2: database "app": unrecognized connection parameter "sslmode"',
      2,
      'app',
    ],
    [
      'empty connection-string value',
      "[databases]\napp = host=''\n",
      'pooler.ini:2: database "app": syntax error in connection string: empty value for "host"',
      2,
      'app',
    ],
    [
      'bad database port',
      '[databases]\napp = port=0\n',
      'pooler.ini:2: database "app": parameter "port": invalid value "0" (expected an integer from 1 to 65535)',
      2,
      'app',
    ],
    [
      'bad database pool_mode',
      '[databases]\napp = pool_mode=tx\n',
      'pooler.ini:2: database "app": parameter "pool_mode": invalid value "tx" (expected session, transaction or statement)',
      2,
      'app',
    ],
    [
      'bad database pool_size',
      '[databases]\napp = pool_size=-1\n',
      'pooler.ini:2: database "app": parameter "pool_size": invalid value "-1" (expected a non-negative integer)',
      2,
      'app',
    ],
    [
      'bad server_lifetime',
      '[databases]\napp = server_lifetime=forever\n',
      'pooler.ini:2: database "app": parameter "server_lifetime": invalid value "forever" (expected a duration in seconds such as 30 or 0.5, or with a unit: 500ms, 30s, 5min, 1h)',
      2,
      'app',
    ],
    [
      'bad load_balance',
      '[pooler]\nload_balance = random\n',
      'pooler.ini:2: key "load_balance": invalid value "random" (expected first, round_robin, weighted_round_robin, least_connections, least_response_time or power_of_two)',
      2,
      'load_balance',
    ],
    [
      'max_replica_lag without a unit',
      '[pooler]\n\nmax_replica_lag = 100\n',
      'pooler.ini:3: key "max_replica_lag": invalid value "100" (expected 0 (off), a size such as 16MB',
      3,
      'max_replica_lag',
    ],
    [
      'bad server_ban_failures',
      '[pooler]\nserver_ban_failures = some\n',
      'pooler.ini:2: key "server_ban_failures": invalid value "some" (expected a non-negative integer)',
      2,
      'server_ban_failures',
    ],
    [
      'bad database load_balance',
      '[databases]\napp = host=a,b load_balance=leastconn\n',
      'pooler.ini:2: database "app": parameter "load_balance": invalid value "leastconn" (expected first, round_robin',
      2,
      'app',
    ],
    [
      'a weight that is not a number',
      '[databases]\napp = host=a,b weight=3,heavy\n',
      'pooler.ini:2: database "app": parameter "weight": invalid value "3,heavy" (expected an integer from 0 to 1000000)',
      2,
      'app',
    ],
    [
      'weights not aligned with hosts',
      '[databases]\napp = host=a,b,c weight=3,1\n',
      'pooler.ini:2: database "app": parameter "weight": expected one weight, or one weight per host (3 hosts, 2 weights)',
      2,
      'app',
    ],
    [
      'weights with Patroni',
      '[databases]\napp = patroni=http://p1:8008 weight=2\n',
      'pooler.ini:2: database "app": parameter "weight": expected no weight= with patroni=',
      2,
      'app',
    ],
    [
      'bad database max_replica_lag',
      '[databases]\napp = host=a,b max_replica_lag=lots\n',
      'pooler.ini:2: database "app": parameter "max_replica_lag": invalid value "lots" (expected 0 (off), a size such as 16MB',
      2,
      'app',
    ],
    [
      'bad database read_write_split',
      '[databases]\napp = host=a,b read_write_split=sometimes\n',
      'pooler.ini:2: database "app": parameter "read_write_split": invalid value "sometimes" (expected 0 or 1 (also on/off, true/false, yes/no))',
      2,
      'app',
    ],
    ['unknown user parameter', '[users]\nbob = pool_size=1 color=blue\n', 'pooler.ini:2: user "bob": unrecognized user parameter "color"', 2, 'bob'],
    [
      'bad user pool_mode',
      '[users]\nbob = pool_mode=sometimes\n',
      'pooler.ini:2: user "bob": parameter "pool_mode": invalid value "sometimes" (expected session, transaction or statement)',
      2,
      'bob',
    ],
    [
      'bad user timeout',
      '[users]\nbob = query_timeout=-3\n',
      'pooler.ini:2: user "bob": parameter "query_timeout": invalid value "-3" (expected a duration in seconds such as 30 or 0.5, or with a unit: 500ms, 30s, 5min, 1h)',
      2,
      'bob',
    ],
    [
      'user syntax error',
      "[users]\nbob = pool_mode='x\n",
      'pooler.ini:2: user "bob": syntax error in user settings: unterminated quoted value for "pool_mode"',
      2,
      'bob',
    ],
  ];

  for (const [title, text, message, line, key] of cases) {
    it(title, () => {
      const err = loadError(text);
      expect(err.message.startsWith(message), `${err.message}\n  does not start with\n${message}`).toBe(true);
      expect(err.file).toBe('pooler.ini');
      expect(err.line).toBe(line);
      expect(err.key).toBe(key);
      expect(err).toBeInstanceOf(Error);
    });
  }

  it('names the included file and line for an error inside an %include', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pooler.ini'), '[pooler]\n%include pools.ini\n');
    writeFileSync(path.join(dir, 'pools.ini'), '; pool settings\n\ndefault_pool_size = 20\npool_mode = sesion\n');
    try {
      loadConfig({ file: 'pooler.ini', env: {}, cwd: dir });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.message).toBe('pools.ini:4: key "pool_mode": invalid value "sesion" (expected session, transaction or statement)');
      expect([e.file, e.line, e.key]).toEqual(['pools.ini', 4, 'pool_mode']);
    }
  });

  it('records origins and warnings in included files by their own name', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pooler.ini'), '[pooler]\npool_mode = session\n%include tuning.ini\n[databases]\n* = host=x\n');
    writeFileSync(path.join(dir, 'tuning.ini'), 'pool_mode = transaction\nso_reuseport = 1\n');
    const config = loadConfig({ file: 'pooler.ini', env: {}, cwd: dir });
    expect(config.settings.pool_mode).toBe('transaction');
    expect(config.origins.get('pool_mode')).toBe('tuning.ini:1');
    expect(config.warnings[0]).toMatch(/^tuning\.ini:2: "so_reuseport"/);
  });

  it('reports a missing config file', () => {
    const dir = tempDir();
    try {
      loadConfig({ file: 'nope.ini', env: {}, cwd: dir });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).message).toMatch(/^nope\.ini: cannot read config file/);
    }
  });
});

describe('pooler.ini.example', () => {
  it('loads without errors or warnings and points at a local PostgreSQL', () => {
    const example = new URL('../../pooler.ini.example', import.meta.url).pathname;
    const config = loadConfig({ file: example, env: {} });
    expect(config.warnings).toEqual([]);
    expect(config.settings).toMatchObject({
      listen_addr: '127.0.0.1',
      listen_port: 6432,
      pool_mode: 'transaction',
      default_pool_size: 9,
      default_pool_size_auto: true,
      ignore_startup_parameters: ['extra_float_digits'],
    });
    expect(config.fallback).toMatchObject({ host: '127.0.0.1', port: 5432 });
    expect(config.databases.get('postgres')).toMatchObject({ host: '127.0.0.1', port: 5432, dbname: 'postgres' });
  });
});
