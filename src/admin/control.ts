// The console's control commands (PAUSE, RESUME, KILL, RELOAD, SET, ...) with PgBouncer's
// semantics: what each does to pools, when it replies, and the error for a command that cannot run.
import { ConfigError } from '../config/errors.js';
import { findSetting, setSetting } from '../config/settings.js';
import { PoolerError, SqlState } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import type { Pooler } from '../pooler.js';
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

function refuse(message: string, sqlstate: string = SqlState.objectNotInPrerequisiteState): PoolerError {
  return new PoolerError('CONSOLE', sqlstate, message, 'ERROR');
}

function done(tag: string): ResultSet {
  return { columns: null, rows: [], tag };
}

/** the pools a command with an optional database argument acts on; the name must be configured */
function poolsOf(pooler: Pooler, database: string | null): Pool[] {
  if (database !== null) requireDatabase(pooler, database);
  return [...pooler.pools.values()].filter((pool) => database === null || pool.database.name === database);
}

function requireDatabase(pooler: Pooler, database: string | null): string {
  if (database === null) throw refuse('a database name is needed here', SqlState.syntaxError);
  if (pooler.isConsoleDatabase(database)) throw refuse(`the console database "${database}" cannot be changed`);
  if (!pooler.config.databases.has(database)) throw refuse(`no such database: ${database}`, SqlState.invalidCatalogName);
  return database;
}

const KILLED = { sqlstate: SqlState.adminShutdown, severity: 'FATAL', message: 'terminated by the console (KILL)' };

export async function runControl(pooler: Pooler, verb: string, argument: string | null, value: string | null): Promise<ResultSet> {
  switch (verb) {
    case 'pause': {
      const pools = poolsOf(pooler, argument);
      if (pooler.isPaused(argument)) throw refuse(argument === null ? 'already paused' : `database ${argument} is already paused`);
      pooler.pause(argument);
      for (const pool of pools) pool.closeUnusedServers('paused');
      await pooler.waitUntil(() => !pooler.isPaused(argument) || poolsOf(pooler, argument).every((pool) => pool.serverCount === 0));
      // a cancel from this console (Ctrl-C in psql) resumes while PAUSE still waits, as in PgBouncer
      if (!pooler.isPaused(argument)) throw refuse('PAUSE cancelled: resumed', SqlState.queryCanceled);
      return done('PAUSE');
    }
    case 'resume': {
      const pools = poolsOf(pooler, argument);
      if (pooler.shutdownMode !== null) throw refuse('pooler is shutting down');
      if (!pooler.isPaused(argument)) throw refuse(argument === null ? 'pooler is not paused' : `database ${argument} is not paused`);
      pooler.resume(argument);
      for (const pool of pools) pool.dispatch();
      return done('RESUME');
    }
    case 'disable':
      pooler.disabledDatabases.add(requireDatabase(pooler, argument));
      return done('DISABLE');
    case 'enable':
      pooler.disabledDatabases.delete(requireDatabase(pooler, argument));
      return done('ENABLE');
    case 'reconnect':
      for (const pool of poolsOf(pooler, argument)) pool.markAllCloseNeeded('reconnect');
      return done('RECONNECT');
    case 'kill':
      // PgBouncer leaves the database paused after KILL; RESUME lets clients in again
      if (!pooler.isPaused(argument)) pooler.pause(argument);
      for (const pool of poolsOf(pooler, argument)) pool.closeEverything('killed', KILLED);
      return done('KILL');
    case 'kill_client': {
      const id = Number(argument);
      const client = [...pooler.clients].find((c) => c.id === id && !c.isConsole);
      if (argument === null || !Number.isInteger(id) || client === undefined) throw refuse(`client not found: ${argument ?? ''}`, SqlState.undefinedObject);
      client.fail({ ...KILLED, message: 'terminated by the console (KILL_CLIENT)' }, 'killed');
      return done('KILL_CLIENT');
    }
    case 'suspend':
      throw refuse(
        'SUSPEND is part of online restart (-R), which pooler does not support; use SHUTDOWN WAIT_FOR_CLIENTS behind a second instance',
        SqlState.featureNotSupported,
      );
    case 'shutdown':
      return shutdown(pooler, argument);
    case 'reload':
      try {
        pooler.reloadFromSource();
      } catch (error) {
        pooler.log.error(`RELOAD failed, keeping the old configuration: ${(error as Error).message}`);
        throw refuse('RELOAD failed, see logs', SqlState.configFileError);
      }
      return done('RELOAD');
    case 'wait_close':
      await pooler.waitUntil(() => poolsOf(pooler, argument).every((pool) => !pool.hasCloseNeeded()));
      return done('WAIT_CLOSE');
    case 'set':
      return set(pooler, argument!, value!);
    default:
      throw refuse(`unknown command: ${verb}`, SqlState.syntaxError);
  }
}

function shutdown(pooler: Pooler, mode: string | null): ResultSet {
  if (mode === null) {
    // PgBouncer never answers a plain SHUTDOWN: the process is gone
    setImmediate(() => void pooler.shutdown('immediate'));
    return done('SHUTDOWN');
  }
  if (mode !== 'wait_for_servers' && mode !== 'wait_for_clients') {
    throw refuse(`unknown SHUTDOWN mode ${mode}: use WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS`, SqlState.syntaxError);
  }
  setImmediate(() => void pooler.shutdown(mode));
  return done('SHUTDOWN');
}

function set(pooler: Pooler, key: string, value: string): ResultSet {
  const def = findSetting(key);
  if (def !== undefined && !def.reloadable) throw refuse(`SET failed: ${key} can only be set in the configuration file, at startup`, SqlState.invalidParameterValue);
  try {
    setSetting(pooler.settings, key, value);
  } catch (error) {
    if (error instanceof ConfigError) throw refuse(`SET failed: ${error.message}`, SqlState.invalidParameterValue);
    throw error;
  }
  pooler.log.info({ key, value }, 'SET from the console');
  return done('SET');
}
