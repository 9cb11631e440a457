// What logins need that is read from files and replaced whole on RELOAD (auth_file secrets,
// DATABASE_URL credentials, auth_type or hba rules, TLS both ways), plus the auth_query runners and
// the secrets they found for users who then logged in.
import { readFileSync } from 'node:fs';
import { parseAuthFile } from '../auth/auth-file.js';
import { chooseClientAuth, loadClientAuthRules, type ChosenAuth, type ClientAuthRules } from '../auth/client-auth-rules.js';
import type { HbaConnection } from '../auth/hba.js';
import type { Config, DatabaseConfig, Settings } from '../config/types.js';
import type { PoolerError } from '../errors.js';
import { loadClientTls, type ClientTls } from '../net/client-tls.js';
import { loadServerTls, type ServerTls } from '../net/server-tls.js';
import { AuthQueries, type AuthQueryContext } from '../pool/auth-queries.js';

/** everything read from files for one configuration; loading it throws before anything is replaced */
export interface LoadedAuth {
  secrets: Map<string, string>;
  rules: ClientAuthRules;
  clientTls: ClientTls | null;
  serverTls: ServerTls | null;
}

export function loadAuth(config: Config): LoadedAuth {
  const file = config.settings.auth_file;
  return {
    secrets: file === null || file === '' ? new Map() : parseAuthFile(readFileSync(file, 'utf8'), file),
    rules: loadClientAuthRules(config.settings),
    clientTls: loadClientTls(config.settings),
    serverTls: loadServerTls(config.settings),
  };
}

export class AuthMaterial implements AuthQueryContext {
  private loaded: LoadedAuth;
  private readonly authQueries = new AuthQueries(this);
  /** secrets auth_query found for users who then logged in, by database\0user */
  private readonly queriedSecrets = new Map<string, string>();

  constructor(
    private readonly config: () => Config,
    readonly lookupDatabase: (name: string) => DatabaseConfig | null,
  ) {
    this.loaded = loadAuth(config());
  }

  get settings(): Settings {
    return this.config().settings;
  }

  /** TLS toward clients, or null when client_tls_sslmode = disable */
  get clientTls(): ClientTls | null {
    return this.loaded.clientTls;
  }

  /** TLS toward servers (server_tls_sslmode = prefer by default), or null */
  get serverTls(): ServerTls | null {
    return this.loaded.serverTls;
  }

  /** RELOAD: the new files' contents; auth_query runners start afresh, as auth_user or its target may have changed */
  replace(loaded: LoadedAuth): void {
    this.loaded = loaded;
    this.authQueries.retireAll();
  }

  lookupSecret(user: string): string | null {
    return this.loaded.secrets.get(user) ?? this.config().urlCredentials.get(user) ?? null;
  }

  chooseAuth(connection: HbaConnection): ChosenAuth | PoolerError {
    return chooseClientAuth(this.loaded.rules, connection);
  }

  querySecret(database: DatabaseConfig, user: string): Promise<string | null> | undefined {
    return this.authQueries.lookup(database, user);
  }

  /** a client logged in against a secret auth_query found: servers of its pool log in with it */
  rememberQueriedSecret(database: DatabaseConfig, user: string, secret: string): void {
    this.queriedSecrets.set(`${database.name}\0${user}`, secret);
  }

  /** the password servers of a pool log in with: the forced user's, else the stored secret */
  serverPassword(database: DatabaseConfig, user: string): string | null {
    if (database.user !== null && database.password !== null) return database.password;
    return this.lookupSecret(user) ?? this.queriedSecrets.get(`${database.name}\0${user}`) ?? null;
  }

  /** the pool is freed: a new one asks auth_query again */
  forgetPool(database: string, user: string): void {
    this.queriedSecrets.delete(`${database}\0${user}`);
  }

  /** freed auto-databases: their auth_query runners close */
  forgetDatabases(names: ReadonlySet<string>): void {
    this.authQueries.forgetDatabases(names);
  }

  /** janitor: auth_query connections idle for server_idle_timeout close */
  closeIdle(now: number): void {
    this.authQueries.closeIdle(now);
  }

  /** shutdown: auth_query connections close once their lookups are answered */
  close(): void {
    this.authQueries.retireAll();
  }
}
