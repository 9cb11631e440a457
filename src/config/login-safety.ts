// The rules that keep a loaded configuration from letting strangers in: auth_type = any only with a
// forced user on every database, as PgBouncer requires; trust by default only on loopback.
import net from 'node:net';
import { ConfigError, configError, type Source } from './errors.js';
import type { AuthType, Config, DatabaseConfig } from './types.js';

/**
 * auth_type = any ignores who the client says it is, so each database must name the one user its
 * pool logs in as. Without user= the client's own name would pick the server login, and anyone
 * could be anyone listed in auth_file (PgBouncer refuses at login: "auth_type=any requires forced
 * user"; we refuse at load, where the operator sees it). `sources` says where each entry came from.
 */
export function checkAnyHasForcedUsers(config: Config, sources: ReadonlyMap<string, Source>): void {
  if (config.settings.auth_type !== 'any') return;
  const entries: DatabaseConfig[] = [...config.databases.values(), ...(config.fallback ? [config.fallback] : [])];
  const open = entries.find((db) => db.user === null);
  if (open === undefined) return;
  const source = sources.get(open.name) ?? { file: null, line: null };
  const fromFile = source.file !== null;
  const fix = fromFile
    ? 'add user=<name> to this entry'
    : 'give it a [databases] entry with user=<name> in a config file (a file entry wins over DATABASE_URL), or choose another auth_type';
  throw configError(
    source,
    open.name,
    `database "${open.name}": auth_type = any (${config.origins.get('auth_type')}) needs a forced user, or every client could log in as any user it names: ${fix}`,
  );
}

/**
 * Whether only this machine can reach listen_addr: every address in it is loopback. '' is not,
 * because Node.js binds every interface for an empty host, and neither are '*' or host names other
 * than localhost, which may resolve to anything.
 */
export function isLoopbackOnly(listenAddr: string): boolean {
  const hosts = listenAddr.split(',').map((host) => host.trim().replace(/^\[(.*)\]$/, '$1'));
  return hosts.every((host) => {
    if (host === 'localhost' || host === '::1') return true;
    const v4 = host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host;
    return net.isIPv4(v4) && v4.startsWith('127.');
  });
}

/**
 * The login method when nothing configured one and there is no config file. PgBouncer's md5
 * default assumes an auth_file; without one, a password in DATABASE_URL is the only thing to check,
 * and with none, trust is the only method that lets anyone in. That is what `npm start` on a laptop
 * wants, but on an address other machines reach it would admit anyone as any user, so there the
 * operator must say what they want.
 */
export function defaultAuthWithoutFile(config: Config): AuthType {
  if (config.urlCredentials.size > 0) return 'md5';
  const listen = config.settings.listen_addr;
  if (isLoopbackOnly(listen)) return 'trust';
  throw new ConfigError(
    `listen_addr = ${listen} (${config.origins.get('listen_addr')}) can be reached from other machines, and nothing configures ` +
      'client authentication (no auth_type, no auth_file, no password in DATABASE_URL), so the default would be trust: anyone ' +
      'could log in as any user. Set POOLER_AUTH_TYPE (md5 or scram-sha-256 with POOLER_AUTH_FILE; trust only if just trusted ' +
      'hosts can reach this address), put the password in DATABASE_URL, or set POOLER_LISTEN_ADDR=127.0.0.1',
    null,
    null,
    'auth_type',
  );
}
