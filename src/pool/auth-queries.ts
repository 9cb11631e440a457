// Which auth_query applies to a client's database (per-database auth_user / auth_query /
// auth_dbname over the global ones), and the runners that execute them, one per place and user.
import { effectiveSetting } from '../config/effective.js';
import type { DatabaseConfig, Settings } from '../config/types.js';
import { PoolerError, SqlState } from '../errors.js';
import type { ServerTls } from '../net/server-tls.js';
import { AuthQueryRunner, type AuthQueryResult } from '../server/auth-query.js';

export interface AuthQueryContext {
  readonly settings: Settings;
  readonly serverTls: ServerTls | null;
  /** the auth_file secret of auth_user */
  lookupSecret(user: string): string | null;
  lookupDatabase(name: string): DatabaseConfig | null;
}

export class AuthQueries {
  private readonly runners = new Map<string, AuthQueryRunner>();

  constructor(private readonly context: AuthQueryContext) {}

  /**
   * The secret auth_query finds for `user`, or null when it finds none; undefined when no
   * auth_user applies to `database`, so the caller goes on with what it has. Rejects with a
   * PoolerError naming what failed, never the secret.
   */
  lookup(database: DatabaseConfig, user: string): Promise<AuthQueryResult> | undefined {
    const settings = this.context.settings;
    const authUser = effectiveSetting(settings, 'auth_user', database);
    if (authUser === null || authUser === '') return undefined;
    const query = effectiveSetting(settings, 'auth_query', database);
    const authDbname = effectiveSetting(settings, 'auth_dbname', database);
    const where = authDbname === null || authDbname === '' ? database : this.context.lookupDatabase(authDbname);
    if (where === null) {
      return Promise.reject(
        new PoolerError('AUTH_QUERY_FAILED', SqlState.invalidAuthorization, `auth_dbname = ${authDbname} is not in [databases]`),
      );
    }
    const key = `${where.name}\0${authUser}\0${query}`;
    let runner = this.runners.get(key);
    if (runner === undefined) {
      const password = where.user === authUser && where.password !== null ? where.password : this.context.lookupSecret(authUser);
      runner = new AuthQueryRunner(
        {
          host: where.host || settings.unix_socket_dir,
          port: where.port,
          user: authUser,
          database: where.dbname,
          password,
          tls: this.context.serverTls,
          scramKeys: null,
          startupParameters: { application_name: 'pooler auth_query' },
        },
        query,
        { maxMessageLength: settings.max_packet_size, tuning: settings },
      );
      this.runners.set(key, runner);
    }
    return runner.lookup(user).catch((error: PoolerError) => {
      throw new PoolerError('AUTH_QUERY_FAILED', SqlState.connectionFailure, `auth_query failed: ${error.message}`);
    });
  }

  /** close connections idle for server_idle_timeout, as a pool's idle servers are */
  closeIdle(now: number): void {
    const timeout = this.context.settings.server_idle_timeout;
    if (timeout <= 0) return;
    for (const runner of this.runners.values()) runner.closeIfIdleSince(now - timeout);
  }

  /** databases that are gone (freed auto-databases): their runners close once their lookups are answered */
  forgetDatabases(names: ReadonlySet<string>): void {
    for (const [key, runner] of this.runners) {
      if (!names.has(key.slice(0, key.indexOf('\0')))) continue;
      runner.retire();
      this.runners.delete(key);
    }
  }

  /** RELOAD: auth_user, its password or the target may have changed; new runners start afresh */
  retireAll(): void {
    for (const runner of this.runners.values()) runner.retire();
    this.runners.clear();
  }
}
