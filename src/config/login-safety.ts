// The rules that keep a loaded configuration from letting strangers in: auth_type = any only with a
// forced user on every database, as PgBouncer requires.
import { configError, type Source } from './errors.js';
import type { Config, DatabaseConfig } from './types.js';

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
