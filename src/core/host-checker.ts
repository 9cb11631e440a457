// The host monitor's checks over real server connections: log in as the pooler does (the forced
// user, else auth_user, else a pool's user), run REPLICA_STATUS_SQL (then PRIMARY_LSN_SQL on a
// primary) and close, all within server_connect_timeout.
import { effectiveSetting } from '../config/effective.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import type { HostChecker, HostStatus } from '../failover/host-monitor.js';
import { parseLsn, PRIMARY_LSN_SQL, readReplicaStatus, REPLICA_STATUS_SQL } from '../failover/replica-lag.js';
import type { ServerAddress } from '../failover/topology.js';
import type { ServerTls } from '../net/server-tls.js';
import { MonitorConnection } from './monitor-connection.js';

export interface CheckLogin {
  user: string;
  password: string | null;
}

export interface HostCheckerContext {
  settings(): Settings;
  serverTls(): ServerTls | null;
  /** who checks of this database log in as; null while there is nobody (see checkLogin) */
  login(database: DatabaseConfig): CheckLogin | null;
}

/** where the server passwords come from: AuthMaterial */
export interface CheckSecrets {
  serverPassword(database: DatabaseConfig, user: string): string | null;
  lookupSecret(user: string): string | null;
}

/**
 * The login a check uses: the database's forced user (every pool logs in as it anyway), else
 * auth_user (the pooler's own login, as PgBouncer has it), else the user of a pool of the database
 * (who logs in there already). With none of these there is nobody to log in as, and no guessing.
 */
export function checkLogin(database: DatabaseConfig, settings: Settings, secrets: CheckSecrets, poolUser: string | null): CheckLogin | null {
  if (database.user !== null) return { user: database.user, password: secrets.serverPassword(database, database.user) };
  const authUser = effectiveSetting(settings, 'auth_user', database);
  if (authUser !== null && authUser !== '') return { user: authUser, password: secrets.lookupSecret(authUser) };
  if (poolUser !== null) return { user: poolUser, password: secrets.serverPassword(database, poolUser) };
  return null;
}

/**
 * A MonitorConnection to the host logged in as checkLogin says, named `applicationName` in
 * pg_stat_activity; null while there is nobody to log in as.
 */
export function openMonitorConnection(context: HostCheckerContext, database: DatabaseConfig, address: ServerAddress, applicationName: string): MonitorConnection | null {
  const login = context.login(database);
  if (login === null) return null;
  const settings = context.settings();
  return new MonitorConnection(
    {
      host: address.host || settings.unix_socket_dir,
      port: address.port,
      user: login.user,
      database: database.dbname,
      password: login.password,
      tls: context.serverTls(),
      scramKeys: null,
      startupParameters: { application_name: applicationName },
    },
    { maxMessageLength: settings.max_packet_size, tuning: settings },
  );
}

export class ServerHostChecker implements HostChecker {
  private readonly open = new Set<MonitorConnection>();

  constructor(private readonly context: HostCheckerContext) {}

  status(database: DatabaseConfig, address: ServerAddress): Promise<HostStatus | null> {
    return this.run(database, address, async (connection) => {
      const [row] = await connection.query(REPLICA_STATUS_SQL);
      if (row === undefined) throw new Error('the status query returned no row');
      const status = readReplicaStatus({ in_recovery: row[0], replay_lsn: row[1], replay_delay_ms: row[2] });
      return { ...status, primaryLsn: status.inRecovery ? null : await readLsn(connection) };
    });
  }

  primaryLsn(database: DatabaseConfig, address: ServerAddress): Promise<bigint | null> {
    return this.run(database, address, readLsn);
  }

  stop(): void {
    for (const connection of this.open) connection.close('shutdown');
    this.open.clear();
  }

  private async run<T>(database: DatabaseConfig, address: ServerAddress, work: (connection: MonitorConnection) => Promise<T>): Promise<T | null> {
    const connection = openMonitorConnection(this.context, database, address, 'pooler health check');
    if (connection === null) return null;
    const settings = this.context.settings();
    this.open.add(connection);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${settings.server_connect_timeout / 1000}s (server_connect_timeout)`));
        connection.close('internal_query_timeout');
      }, settings.server_connect_timeout);
      timer.unref();
    });
    try {
      return await Promise.race([work(connection), timeout]);
    } finally {
      clearTimeout(timer);
      this.open.delete(connection);
      // the pooler is the client here, and it is done
      connection.close('client_close');
    }
  }
}

async function readLsn(connection: MonitorConnection): Promise<bigint> {
  const [row] = await connection.query(PRIMARY_LSN_SQL);
  if (row?.[0] == null) throw new Error('the primary returned no WAL position');
  return parseLsn(row[0]);
}
