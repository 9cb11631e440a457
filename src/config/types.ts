// The typed shape of a loaded configuration: [pooler]/[pgbouncer] settings, [databases], [users].
// Setting names are PgBouncer's own (snake_case) so the ini, SHOW CONFIG and SET speak one language.
// Every time value is held in milliseconds.

export type PoolMode = 'session' | 'transaction' | 'statement';
export type SessionStateMode = 'track_and_pin' | 'error' | 'ignore';
/** libpq's sslmode words, which PgBouncer's client_tls_sslmode and server_tls_sslmode take */
export type TlsMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type AuthType = 'trust' | 'any' | 'plain' | 'md5' | 'scram-sha-256' | 'cert' | 'hba';
/** how a transaction picks one of a database's hosts; `first` is the first usable host (no balancing) */
export type LoadBalance = 'first' | 'round_robin' | 'weighted_round_robin' | 'least_connections' | 'least_response_time' | 'power_of_two';
/** when no replica is usable, reads go to the primary, or wait (up to query_wait_timeout) for one */
export type ReplicaFallback = 'primary' | 'wait';
/** lsn: a client's reads go only to replicas that have replayed its last commit */
export type ReadYourWrites = 'lsn' | 'off';
/** max_replica_lag: a replica further behind than this is taken out; 0 means no limit on that measure */
export interface ReplicaLagLimit {
  bytes: number;
  ms: number;
}

export interface Settings {
  listen_addr: string;
  listen_port: number;
  unix_socket_dir: string;
  auth_type: AuthType;
  auth_file: string | null;
  /** pg_hba.conf-style rules for auth_type = hba */
  auth_hba_file: string;
  /** user name maps for cert rules with map= */
  auth_ident_file: string | null;
  /** auth_query runs as this user (its password from auth_file) for users missing from auth_file */
  auth_user: string | null;
  /** returns (user name, secret) for $1 */
  auth_query: string;
  /** the [databases] entry auth_query runs in; null: the database the client asked for */
  auth_dbname: string | null;
  /** TLS toward clients: disable, allow/prefer (TLS when asked), require, verify-ca/verify-full (client certificate) */
  client_tls_sslmode: TlsMode;
  client_tls_key_file: string;
  client_tls_cert_file: string;
  client_tls_ca_file: string;
  /** PgBouncer's protocol list: secure, all, legacy, or names like tlsv1.2,tlsv1.3 */
  client_tls_protocols: string;
  /** OpenSSL cipher list for TLS ≤ 1.2 ('default', 'secure', 'fast', 'normal' or a list) */
  client_tls_ciphers: string;
  client_tls13_ciphers: string;
  /** TLS toward PostgreSQL: prefer (default) asks for it and goes on without; require/verify-* insist */
  server_tls_sslmode: TlsMode;
  server_tls_ca_file: string;
  server_tls_cert_file: string;
  server_tls_key_file: string;
  server_tls_protocols: string;
  server_tls_ciphers: string;
  server_tls13_ciphers: string;
  admin_users: string[];
  stats_users: string[];
  pool_mode: PoolMode;
  /**
   * what transaction and statement mode do with session state (SET, temp tables, LISTEN, ...):
   * follow SETs from server to server and keep a client on its server while it holds state that
   * cannot move; refuse such statements; or pass them on unnoticed, as PgBouncer does
   */
  session_state: SessionStateMode;
  max_client_conn: number;
  /** per-server LRU of prepared statements in transaction/statement mode; 0 passes names through */
  max_prepared_statements: number;
  /** resolved number; when the file says `auto` this is server_cores × 2 + effective_spindle_count */
  default_pool_size: number;
  default_pool_size_auto: boolean;
  server_cores: number;
  /** Prometheus /metrics and the /healthz, /readyz probes; 0 turns the endpoint off */
  metrics_port: number;
  metrics_listen_addr: string;
  /** SIGTERM drain: exit after this long (ms) even if clients remain; 0 waits for ever */
  shutdown_timeout: number;
  effective_spindle_count: number;
  min_pool_size: number;
  reserve_pool_size: number;
  reserve_pool_timeout: number;
  max_db_connections: number;
  max_user_connections: number;
  server_round_robin: boolean;
  ignore_startup_parameters: string[];
  track_extra_parameters: string[];
  server_reset_query: string;
  server_reset_query_always: boolean;
  /** '' disables the check; '<empty>' sends an empty query (PgBouncer 1.25 default) */
  server_check_query: string;
  server_check_delay: number;
  server_lifetime: number;
  server_idle_timeout: number;
  server_connect_timeout: number;
  server_login_retry: number;
  client_login_timeout: number;
  autodb_idle_timeout: number;
  /** a pool with no clients and no servers this long is freed (ms); 0 keeps pools for ever */
  pool_idle_timeout: number;
  query_timeout: number;
  query_wait_timeout: number;
  /** a client waiting while a database has no writable primary gets an error after this long (ms) */
  failover_wait_timeout: number;
  /** how often Patroni's /cluster is read (ms) */
  patroni_poll_interval: number;
  client_idle_timeout: number;
  idle_transaction_timeout: number;
  /** the read-replica settings (config/replica-settings.ts); a [databases] entry may override the first five */
  load_balance: LoadBalance;
  read_write_split: boolean;
  read_your_writes: ReadYourWrites;
  max_replica_lag: ReplicaLagLimit;
  replica_fallback: ReplicaFallback;
  /** ms between active checks of each host; 0: passive checks only */
  health_check_period: number;
  /** ms a banned host gets no transactions before one probe decides */
  server_ban_time: number;
  /** consecutive connect or query failures (not SQL errors) that ban a host; 0: never by count */
  server_ban_failures: number;
  /** ms between reads of each replica's replay position (read_your_writes = lsn) */
  replica_lsn_poll_interval: number;
  log_connections: boolean;
  log_disconnections: boolean;
  log_pooler_errors: boolean;
  log_stats: boolean;
  stats_period: number;
  application_name_add_host: boolean;
  tcp_keepalive: boolean;
  /** seconds (0: OS default); applied by net/socket-tuning.ts, which says what Node cannot set */
  tcp_keepidle: number;
  tcp_keepintvl: number;
  tcp_keepcnt: number;
  /** milliseconds, as in PgBouncer */
  tcp_user_timeout: number;
  transaction_timeout: number;
  max_packet_size: number;
  pkt_buf: number;
  logfile: string;
  pidfile: string;
  verbose: number;
}

/** libpq's target_session_attrs: which server of a multi-host entry to use */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary' | 'read-only' | 'standby' | 'prefer-standby';

export interface DatabaseConfig {
  /** the name clients ask for (the key in [databases]) */
  name: string;
  /** a host name, an IP address, or a directory holding the server's Unix socket; the first of `hosts` */
  host: string;
  port: number;
  /** libpq-style multi-host: `host=h1,h2 port=p1,p2`, in order (one entry for a plain host) */
  hosts: { host: string; port: number }[];
  target_session_attrs: TargetSessionAttrs;
  /** Patroni REST API URLs: the primary is wherever Patroni says the leader is */
  patroni: string[];
  /** the database name on the server */
  dbname: string;
  /** forced user: every client of this database shares one pool logged in as this user */
  user: string | null;
  password: string | null;
  pool_size: number | null;
  min_pool_size: number | null;
  reserve_pool_size: number | null;
  pool_mode: PoolMode | null;
  max_db_connections: number | null;
  server_lifetime: number | null;
  connect_query: string | null;
  auth_user: string | null;
  auth_query: string | null;
  auth_dbname: string | null;
  load_balance: LoadBalance | null;
  /** weight= per host, aligned with `hosts` (a single weight= applies to every host); empty: all weigh 1 */
  weight: number[];
  read_write_split: boolean | null;
  read_your_writes: ReadYourWrites | null;
  max_replica_lag: ReplicaLagLimit | null;
  replica_fallback: ReplicaFallback | null;
  /** sent to the server in the startup packet (client_encoding, datestyle, timezone, application_name) */
  startup_parameters: Record<string, string>;
}

export interface UserConfig {
  name: string;
  pool_mode: PoolMode | null;
  pool_size: number | null;
  reserve_pool_size: number | null;
  max_user_connections: number | null;
  query_timeout: number | null;
  idle_transaction_timeout: number | null;
  transaction_timeout: number | null;
  client_idle_timeout: number | null;
}

export interface Config {
  settings: Settings;
  databases: Map<string, DatabaseConfig>;
  /** the `*` entry: used for any database name not listed, with dbname = the requested name */
  fallback: DatabaseConfig | null;
  users: Map<string, UserConfig>;
  /** credentials learnt from DATABASE_URL (user → password), consulted like auth_file entries */
  urlCredentials: Map<string, string>;
  /** where each effective setting came from: 'default', 'path/pooler.ini:12', 'env POOLER_POOL_MODE', 'DATABASE_URL' */
  origins: Map<string, string>;
  /** human-readable warnings, e.g. a PgBouncer key we accept but do not act on yet */
  warnings: string[];
  /** the main config file, or null when running from defaults and the environment only */
  file: string | null;
}
