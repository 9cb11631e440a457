// The settings table against PgBouncer's 101 parameters, reloadability, and SHOW CONFIG formatting.
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  SETTING_DEFINITIONS,
  UNSUPPORTED_SETTINGS,
  computeAutoPoolSize,
  defaultSettings,
  findSetting,
  formatSetting,
  setSetting,
} from './index.js';

// The inventory's 101: PgBouncer's bouncer_params[] (src/main.c) at master, which is 1.25.2's 99
// plus pool_idle_timeout and login_notify_message.
const PGBOUNCER_PARAMETERS = `admin_users application_name_add_host auth_dbname auth_file auth_hba_file auth_ident_file
auth_ldap_options auth_query auth_type auth_user autodb_idle_timeout cancel_wait_timeout client_idle_timeout
client_login_timeout client_tls13_ciphers client_tls_ca_file client_tls_cert_file client_tls_ciphers
client_tls_dheparams client_tls_ecdhcurve client_tls_key_file client_tls_protocols client_tls_sslmode conffile
default_pool_size disable_pqexec dns_max_ttl dns_nxdomain_ttl dns_zone_check_period idle_transaction_timeout
ignore_startup_parameters job_name listen_addr listen_backlog listen_port log_connections log_disconnections
log_pooler_errors log_stats logfile max_client_conn max_db_client_connections max_db_connections max_packet_size
max_prepared_statements max_user_client_connections max_user_connections min_pool_size peer_id pidfile pkt_buf
pool_mode query_timeout query_wait_notify query_wait_timeout reserve_pool_size reserve_pool_timeout resolv_conf
sbuf_loopcnt scram_iterations server_check_delay server_check_query server_connect_timeout server_fast_close
server_idle_timeout server_lifetime server_login_retry server_reset_query server_reset_query_always
server_round_robin server_tls13_ciphers server_tls_ca_file server_tls_cert_file server_tls_ciphers
server_tls_key_file server_tls_protocols server_tls_sslmode service_name so_reuseport stats_period stats_users
suspend_timeout syslog syslog_facility syslog_ident tcp_defer_accept tcp_keepalive tcp_keepcnt tcp_keepidle
tcp_keepintvl tcp_socket_buffer tcp_user_timeout track_extra_parameters transaction_timeout unix_socket_dir
unix_socket_group unix_socket_mode user verbose pool_idle_timeout login_notify_message`.split(/\s+/);

describe('the settings table', () => {
  it('has one row for every field of Settings except the derived auto flag', () => {
    const fields = Object.keys(defaultSettings()).filter((key) => key !== 'default_pool_size_auto').sort();
    expect(SETTING_DEFINITIONS.map((def) => def.name).sort()).toEqual(fields);
  });

  it('is in alphabetical order, like SHOW CONFIG', () => {
    const names = SETTING_DEFINITIONS.map((def) => def.name);
    expect(names).toEqual([...names].sort());
    const unsupported = UNSUPPORTED_SETTINGS.map((row) => row.name);
    expect(unsupported).toEqual([...unsupported].sort());
  });

  it('covers all 101 PgBouncer parameters, implemented or accepted with a warning', () => {
    expect(PGBOUNCER_PARAMETERS).toHaveLength(101);
    const known = new Set([...SETTING_DEFINITIONS.map((def) => def.name as string), ...UNSUPPORTED_SETTINGS.map((row) => row.name)]);
    expect(PGBOUNCER_PARAMETERS.filter((name) => !known.has(name))).toEqual([]);
    const ours = SETTING_DEFINITIONS.map((def) => def.name as string).filter((name) => !PGBOUNCER_PARAMETERS.includes(name));
    expect(ours.sort()).toEqual([
      'effective_spindle_count',
      'failover_wait_timeout',
      'health_check_period',
      'load_balance',
      'max_replica_lag',
      'metrics_listen_addr',
      'metrics_port',
      'patroni_poll_interval',
      'read_write_split',
      'read_your_writes',
      'replica_fallback',
      'replica_lsn_poll_interval',
      'server_ban_failures',
      'server_ban_time',
      'server_cores',
      'session_state',
      'shutdown_timeout',
    ]);
    expect(UNSUPPORTED_SETTINGS.filter((row) => !PGBOUNCER_PARAMETERS.includes(row.name))).toEqual([]);
    // no name is both implemented and ignored
    expect(SETTING_DEFINITIONS.filter((def) => UNSUPPORTED_SETTINGS.some((row) => row.name === def.name))).toEqual([]);
  });

  it('marks PgBouncer\'s startup-only parameters as not reloadable', () => {
    const fixed = SETTING_DEFINITIONS.filter((def) => !def.reloadable).map((def) => def.name);
    expect(fixed).toEqual(['listen_addr', 'listen_port', 'metrics_listen_addr', 'metrics_port', 'pidfile', 'pkt_buf', 'track_extra_parameters', 'unix_socket_dir']);
  });
});

describe('defaultSettings', () => {
  it('has PgBouncer 1.25 defaults, with pooler\'s own listen_addr', () => {
    const s = defaultSettings();
    expect(s).toMatchObject({
      listen_addr: '127.0.0.1',
      listen_port: 6432,
      unix_socket_dir: '/tmp',
      auth_type: 'md5',
      auth_file: null,
      pool_mode: 'session',
      max_client_conn: 100,
      default_pool_size: 20,
      default_pool_size_auto: false,
      server_cores: 4,
      effective_spindle_count: 1,
      server_check_query: '<empty>',
      server_reset_query: 'DISCARD ALL',
      track_extra_parameters: ['IntervalStyle'],
      server_lifetime: 3_600_000,
      server_idle_timeout: 600_000,
      query_wait_timeout: 120_000,
      client_login_timeout: 60_000,
      stats_period: 60_000,
      max_packet_size: 2147483647,
      pkt_buf: 4096,
      tcp_keepalive: true,
      log_connections: true,
    });
  });

  it('returns a fresh object every time', () => {
    const a = defaultSettings();
    a.admin_users.push('x');
    expect(defaultSettings().admin_users).toEqual([]);
  });
});

describe('formatSetting (SHOW CONFIG values)', () => {
  it('prints times as %g seconds, booleans as 0/1, lists comma-joined, null as null', () => {
    const s = defaultSettings();
    s.query_wait_timeout = 500;
    s.ignore_startup_parameters = ['extra_float_digits', 'options'];
    expect(formatSetting('server_lifetime', s)).toBe('3600');
    expect(formatSetting('query_wait_timeout', s)).toBe('0.5');
    expect(formatSetting('tcp_keepalive', s)).toBe('1');
    expect(formatSetting('server_round_robin', s)).toBe('0');
    expect(formatSetting('ignore_startup_parameters', s)).toBe('extra_float_digits,options');
    expect(formatSetting('auth_file', s)).toBeNull();
    expect(formatSetting('pool_mode', s)).toBe('session');
    expect(formatSetting('listen_port', s)).toBe('6432');
  });

  it('prints a resolved auto pool size as its number', () => {
    const s = defaultSettings();
    setSetting(s, 'default_pool_size', 'auto');
    expect(formatSetting('default_pool_size', s)).toBe('9');
  });

  it('round-trips every default through its own parser', () => {
    const s = defaultSettings();
    for (const def of SETTING_DEFINITIONS) {
      const copy = defaultSettings();
      setSetting(copy, def.name, formatSetting(def.name, s) ?? '');
      expect(copy[def.name], def.name).toEqual(s[def.name]);
    }
  });
});

describe('the read-replica settings', () => {
  it('default to today\'s behaviour: the first host, no split, no lag limit', () => {
    expect(defaultSettings()).toMatchObject({
      load_balance: 'first',
      health_check_period: 10_000,
      server_ban_time: 60_000,
      server_ban_failures: 3,
      max_replica_lag: { bytes: 0, ms: 0 },
      replica_fallback: 'primary',
      read_write_split: false,
      read_your_writes: 'lsn',
      replica_lsn_poll_interval: 100,
    });
  });

  it('read max_replica_lag as bytes or a duration, and print it back with its unit', () => {
    const s = defaultSettings();
    const cases: [string, { bytes: number; ms: number }, string][] = [
      ['16MB', { bytes: 16 * 1024 * 1024, ms: 0 }, '16MB'],
      ['16mb', { bytes: 16 * 1024 * 1024, ms: 0 }, '16MB'],
      ['1536kB', { bytes: 1536 * 1024, ms: 0 }, '1536kB'],
      ['1000B', { bytes: 1000, ms: 0 }, '1000B'],
      ['1GB', { bytes: 1024 ** 3, ms: 0 }, '1GB'],
      ['10s', { bytes: 0, ms: 10_000 }, '10s'],
      ['500ms', { bytes: 0, ms: 500 }, '0.5s'],
      ['2min', { bytes: 0, ms: 120_000 }, '120s'],
      ['0', { bytes: 0, ms: 0 }, '0'],
      ['0MB', { bytes: 0, ms: 0 }, '0'],
    ];
    for (const [raw, value, printed] of cases) {
      setSetting(s, 'max_replica_lag', raw);
      expect(s.max_replica_lag, raw).toEqual(value);
      expect(formatSetting('max_replica_lag', s), raw).toBe(printed);
    }
  });

  it('refuse a lag without a unit, since bytes and seconds would both be plausible', () => {
    const s = defaultSettings();
    for (const raw of ['10', '16 parsecs', '-1MB', 'MB', '1.5B']) {
      expect(() => setSetting(s, 'max_replica_lag', raw), raw).toThrow(
        `key "max_replica_lag": invalid value "${raw}" (expected 0 (off), a size such as 16MB (B, kB, MB, GB, TB) or a duration such as 10s (ms, s, min, h))`,
      );
    }
  });

  it('check the load_balance, replica_fallback and read_your_writes words', () => {
    const s = defaultSettings();
    setSetting(s, 'load_balance', 'POWER_OF_TWO');
    expect(s.load_balance).toBe('power_of_two');
    expect(() => setSetting(s, 'load_balance', 'random')).toThrow(
      'key "load_balance": invalid value "random" (expected first, round_robin, weighted_round_robin, least_connections, least_response_time or power_of_two)',
    );
    expect(() => setSetting(s, 'replica_fallback', 'error')).toThrow('(expected primary or wait)');
    expect(() => setSetting(s, 'read_your_writes', 'on')).toThrow('(expected lsn or off)');
  });
});

describe('setSetting (the console\'s SET)', () => {
  it('validates and applies', () => {
    const s = defaultSettings();
    expect(setSetting(s, 'pool_mode', 'transaction')).toBe(findSetting('pool_mode'));
    expect(s.pool_mode).toBe('transaction');
  });

  it('recomputes an auto pool size when cores or spindles change', () => {
    const s = defaultSettings();
    setSetting(s, 'default_pool_size', 'auto');
    setSetting(s, 'server_cores', '16');
    expect(s.default_pool_size).toBe(33);
    setSetting(s, 'effective_spindle_count', '0');
    expect(s.default_pool_size).toBe(32);
  });

  it('throws ConfigError with the key for bad values and unknown names', () => {
    const s = defaultSettings();
    expect(() => setSetting(s, 'pool_mode', 'x')).toThrow('key "pool_mode": invalid value "x" (expected session, transaction or statement)');
    expect(() => setSetting(s, 'pool_mode', 'x')).toThrow(ConfigError);
    expect(() => setSetting(s, 'so_reuseport', '1')).toThrow('"so_reuseport" is a PgBouncer setting pooler does not support yet');
    expect(() => setSetting(s, 'nope', '1')).toThrow('unknown parameter "nope"');
    try {
      setSetting(s, 'listen_port', '0');
    } catch (err) {
      expect((err as ConfigError).key).toBe('listen_port');
    }
  });
});

describe('computeAutoPoolSize', () => {
  it('is cores × 2 + spindles, with the arithmetic written out', () => {
    expect(computeAutoPoolSize(4, 1)).toEqual({ size: 9, arithmetic: '4 × 2 + 1 = 9' });
    expect(computeAutoPoolSize(16, 0)).toEqual({ size: 32, arithmetic: '16 × 2 + 0 = 32' });
  });
});
