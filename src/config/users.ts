// One [users] line, `name = key=value ...`: per-user overrides of pool mode, sizes, limits and
// timeouts (loader.c parse_user). A user setting beats the database's, which beats the global one.
import { applyEntryPairs } from './connstring.js';
import { configError, describeSource, type Source } from './errors.js';
import { POOL_MODES } from './settings.js';
import type { UserConfig } from './types.js';
import { parseEnum, parseInteger, parseTime } from './values.js';

/** [users] keys PgBouncer has that we accept and ignore */
const IGNORED_USER_KEYS = new Set(['max_user_client_connections', 'query_wait_timeout']);

export function emptyUser(name: string): UserConfig {
  return {
    name,
    pool_mode: null,
    pool_size: null,
    reserve_pool_size: null,
    max_user_connections: null,
    query_timeout: null,
    idle_transaction_timeout: null,
    transaction_timeout: null,
    client_idle_timeout: null,
  };
}

/** parse one [users] entry; `warn` receives notes about keys we accept but ignore */
export function parseUserEntry(name: string, settings: string, source: Source, warn: (message: string) => void): UserConfig {
  const subject = `user "${name}"`;
  if (name === '') throw configError(source, name, 'a user name cannot be empty');
  const user = emptyUser(name);
  applyEntryPairs(settings, 'user settings', source, name, subject, (key, value) => {
    switch (key) {
      case 'pool_mode':
        user.pool_mode = parseEnum(value, POOL_MODES);
        break;
      case 'pool_size':
        user.pool_size = parseInteger(value);
        break;
      case 'reserve_pool_size':
        user.reserve_pool_size = parseInteger(value);
        break;
      case 'max_user_connections':
        user.max_user_connections = parseInteger(value);
        break;
      case 'query_timeout':
        user.query_timeout = parseTime(value);
        break;
      case 'idle_transaction_timeout':
        user.idle_transaction_timeout = parseTime(value);
        break;
      case 'transaction_timeout':
        user.transaction_timeout = parseTime(value);
        break;
      case 'client_idle_timeout':
        user.client_idle_timeout = parseTime(value);
        break;
      default:
        if (IGNORED_USER_KEYS.has(key)) {
          warn(`${describeSource(source)}: ${subject}: "${key}" is a PgBouncer parameter pooler does not support yet; it is ignored`);
        } else {
          throw configError(
            source,
            name,
            `${subject}: unrecognized user parameter "${key}" (known: pool_mode, pool_size, reserve_pool_size, max_user_connections, query_timeout, idle_transaction_timeout, transaction_timeout, client_idle_timeout)`,
          );
        }
    }
  });
  return user;
}
