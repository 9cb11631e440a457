// The console's commands: which SHOW builder or control action a parsed query maps to, who may run
// it (stats_users only SHOW), and the errors PgBouncer gives for a bad or refused command.
import type { Settings } from '../config/types.js';
import { consoleError, PoolerError, SqlState } from '../errors.js';
import { parseConsoleQuery } from './grammar.js';
import type { ResultSet } from './result-set.js';
import { showConfig, showDatabases, showPoolSize, showUsers, showVersion } from './show-config.js';
import { showLists, showPools, showState } from './show-pools.js';
import { showClients, showServers } from './show-sockets.js';
import { showLatency, showStats, showStatsAverages, showStatsTotals, showTotals } from './show-stats.js';
import { showTopology } from './show-topology.js';
import { showHosts } from './show-hosts.js';
import { runControl, CONTROL_VERBS } from './control.js';
import type { ConsoleContext, ConsoleView } from './console-context.js';
import { HELP } from './help.js';

export interface ConsoleUser {
  name: string;
  /** in admin_users: may run control commands */
  admin: boolean;
}

const SHOWS: Record<string, (view: ConsoleView) => ResultSet> = {
  pools: showPools,
  stats: showStats,
  stats_totals: showStatsTotals,
  stats_averages: showStatsAverages,
  totals: showTotals,
  servers: showServers,
  clients: showClients,
  databases: showDatabases,
  users: showUsers,
  lists: showLists,
  config: showConfig,
  version: showVersion,
  state: showState,
  latency: showLatency,
  pool_size: showPoolSize,
  topology: showTopology,
  hosts: showHosts,
  help: () => ({ columns: null, rows: [], tag: 'SHOW', notices: [{ severity: 'NOTICE', code: SqlState.successfulCompletion, message: 'Console usage', detail: HELP }] }),
};

/** PgBouncer answers SHOW/SET of these session settings itself, so drivers that ask them work */
const FAKE_PARAMETERS: Record<string, string> = {
  client_encoding: 'UTF8',
  default_transaction_isolation: 'read committed',
  standard_conforming_strings: 'on',
  datestyle: 'ISO',
  timezone: 'GMT',
  extra_float_digits: '1',
};

export async function runConsoleQuery(context: ConsoleContext, user: ConsoleUser, query: string): Promise<ResultSet> {
  const parsed = parseConsoleQuery(query);
  if (parsed === null) throw consoleError(`invalid command '${query}', use SHOW HELP;`, SqlState.syntaxError);
  switch (parsed.kind) {
    case 'show': {
      const fake = FAKE_PARAMETERS[parsed.what];
      if (fake !== undefined) return { columns: [{ name: parsed.what, type: 'text' }], rows: [[fake]], tag: 'SHOW' };
      const show = SHOWS[parsed.what];
      if (show === undefined) throw consoleError(`unsupported SHOW cmd: ${parsed.what}`, SqlState.syntaxError);
      return show(context);
    }
    case 'set':
      if (FAKE_PARAMETERS[parsed.key] !== undefined) {
        return { columns: null, rows: [], tag: 'SET', notices: [{ severity: 'NOTICE', code: SqlState.successfulCompletion, message: 'SET ignored' }] };
      }
      requireAdmin(user);
      return runControl(context, 'set', parsed.key, parsed.value);
    case 'command':
      if (!CONTROL_VERBS.has(parsed.verb)) throw consoleError(`unknown command: ${parsed.verb}, use SHOW HELP;`, SqlState.syntaxError);
      requireAdmin(user);
      return runControl(context, parsed.verb, parsed.argument, null);
  }
}

/**
 * Who may use the console once authenticated: admin_users run everything, stats_users only SHOW.
 * auth_type = any lets anyone in; PgBouncer's code makes them read-only unless in admin_users.
 */
export function consoleUser(settings: Settings, name: string): ConsoleUser | PoolerError {
  const admin = settings.admin_users.includes(name);
  if (!admin && !settings.stats_users.includes(name) && settings.auth_type !== 'any') {
    return new PoolerError(
      'CONSOLE_NOT_ALLOWED',
      SqlState.invalidAuthorization,
      `user "${name}" may not use the console: add it to admin_users or stats_users`,
    );
  }
  return { name, admin };
}

function requireAdmin(user: ConsoleUser): void {
  if (!user.admin) throw consoleError('admin access needed', SqlState.insufficientPrivilege);
}
