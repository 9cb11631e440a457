// The console's control commands (PAUSE, RESUME, KILL, RELOAD, SET, ...) with PgBouncer's
// semantics: who may name which database, when each replies, and the error for a command that cannot run.
import { RESERVED_DATABASE_NAMES } from '../config/databases.js';
import { ConfigError } from '../config/errors.js';
import { findSetting } from '../config/settings.js';
import { consoleError, SqlState } from '../errors.js';
import type { ConsoleContext } from './console-context.js';
import type { ResultSet } from './result-set.js';

export const CONTROL_VERBS = new Set([
  'pause',
  'resume',
  'disable',
  'enable',
  'reconnect',
  'kill',
  'kill_client',
  'suspend',
  'shutdown',
  'reload',
  'wait_close',
]);

function done(tag: string): ResultSet {
  return { columns: null, rows: [], tag };
}

/** the argument of a command that takes an optional database; when given, it must be configured */
function optionalDatabase(context: ConsoleContext, database: string | null): string | null {
  return database === null ? null : requireDatabase(context, database);
}

function requireDatabase(context: ConsoleContext, database: string | null): string {
  if (database === null) throw consoleError('a database name is needed here', SqlState.syntaxError);
  if (RESERVED_DATABASE_NAMES.includes(database)) throw consoleError(`the console database "${database}" cannot be changed`, SqlState.objectNotInPrerequisiteState);
  if (!context.config.databases.has(database)) throw consoleError(`no such database: ${database}`, SqlState.invalidCatalogName);
  return database;
}

export async function runControl(context: ConsoleContext, verb: string, argument: string | null, value: string | null): Promise<ResultSet> {
  switch (verb) {
    case 'pause': {
      const database = optionalDatabase(context, argument);
      if (context.isPaused(database)) throw consoleError(database === null ? 'already paused' : `database ${database} is already paused`, SqlState.objectNotInPrerequisiteState);
      // a cancel from this console (Ctrl-C in psql) resumes while PAUSE still waits, as in PgBouncer
      if (!(await context.pause(database))) throw consoleError('PAUSE cancelled: resumed', SqlState.queryCanceled);
      return done('PAUSE');
    }
    case 'resume': {
      const database = optionalDatabase(context, argument);
      if (context.shutdownMode !== null) throw consoleError('pooler is shutting down', SqlState.objectNotInPrerequisiteState);
      if (!context.isPaused(database)) throw consoleError(database === null ? 'pooler is not paused' : `database ${database} is not paused`, SqlState.objectNotInPrerequisiteState);
      context.resume(database);
      return done('RESUME');
    }
    case 'disable':
      context.disable(requireDatabase(context, argument));
      return done('DISABLE');
    case 'enable':
      context.enable(requireDatabase(context, argument));
      return done('ENABLE');
    case 'reconnect':
      context.reconnect(optionalDatabase(context, argument));
      return done('RECONNECT');
    case 'kill':
      context.kill(optionalDatabase(context, argument));
      return done('KILL');
    case 'kill_client': {
      const id = Number(argument);
      if (argument === null || !Number.isInteger(id) || !context.killClient(id)) throw consoleError(`client not found: ${argument ?? ''}`, SqlState.undefinedObject);
      return done('KILL_CLIENT');
    }
    case 'suspend':
      throw consoleError(
        'SUSPEND is part of online restart (-R), which pooler does not support; use SHUTDOWN WAIT_FOR_CLIENTS behind a second instance',
        SqlState.featureNotSupported,
      );
    case 'shutdown':
      return shutdown(context, argument);
    case 'reload':
      try {
        context.reload();
      } catch (error) {
        context.log.error(`RELOAD failed, keeping the old configuration: ${(error as Error).message}`);
        throw consoleError('RELOAD failed, see logs', SqlState.configFileError);
      }
      return done('RELOAD');
    case 'wait_close':
      await context.waitClose(optionalDatabase(context, argument));
      return done('WAIT_CLOSE');
    case 'set':
      return set(context, argument!, value!);
    default:
      throw consoleError(`unknown command: ${verb}`, SqlState.syntaxError);
  }
}

function shutdown(context: ConsoleContext, mode: string | null): ResultSet {
  if (mode === null) {
    // PgBouncer never answers a plain SHUTDOWN: the process is gone
    setImmediate(() => context.shutdown('immediate'));
    return done('SHUTDOWN');
  }
  if (mode !== 'wait_for_servers' && mode !== 'wait_for_clients') {
    throw consoleError(`unknown SHUTDOWN mode ${mode}: use WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS`, SqlState.syntaxError);
  }
  setImmediate(() => context.shutdown(mode));
  return done('SHUTDOWN');
}

function set(context: ConsoleContext, key: string, value: string): ResultSet {
  const def = findSetting(key);
  if (def !== undefined && !def.reloadable) throw consoleError(`SET failed: ${key} can only be set in the configuration file, at startup`, SqlState.invalidParameterValue);
  try {
    context.set(key, value);
  } catch (error) {
    if (error instanceof ConfigError) throw consoleError(`SET failed: ${error.message}`, SqlState.invalidParameterValue);
    throw error;
  }
  context.log.info({ key, value }, 'SET from the console');
  return done('SET');
}
