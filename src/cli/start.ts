// `pooler start`: load the configuration, listen, and map signals: SIGHUP reloads, SIGTERM drains
// (each client is closed at its next transaction boundary, exit by shutdown_timeout), SIGINT waits
// for servers to be released, SIGQUIT (or a second SIGTERM/SIGINT) exits at once.
import { writeFileSync, rmSync } from 'node:fs';
import { createLogger, type Logger } from '../log.js';
import { Pooler } from '../pooler.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { loadConfigOrExit } from './load.js';
import { startMetricsEndpoint, type MetricsEndpoint } from '../metrics/http-endpoint.js';

export async function startCommand(positional: string | undefined, options: { config?: string; verbose?: boolean }): Promise<void> {
  const file = options.config ?? positional;
  const config = loadConfigOrExit(positional, options.config);
  const verbose = options.verbose || config.settings.verbose > 0;
  const log = createLogger({ level: verbose ? 'debug' : undefined, file: config.settings.logfile || undefined });
  for (const warning of config.warnings) log.warn(warning);
  // Faults in a connection's handling end that connection where they happen; one that still reaches
  // the top leaves the process in an unknown state, so it is logged and the process exits non-zero.
  process.on('uncaughtException', (error) => {
    process.stderr.write(`pooler: internal error: ${error.stack ?? error.message}\n`);
    log.fatal({ err: error }, 'uncaught exception; exiting');
    setTimeout(() => process.exit(70), 50);
  });
  const pooler = new Pooler(config, log);
  try {
    await pooler.listen();
  } catch (error) {
    return exitFatal(log, `cannot listen on ${config.settings.listen_addr}:${config.settings.listen_port}: ${(error as Error).message}`);
  }
  let metrics: MetricsEndpoint | null = null;
  if (config.settings.metrics_port > 0) {
    try {
      metrics = await startMetricsEndpoint(pooler.console, config.settings.metrics_listen_addr, config.settings.metrics_port, log);
    } catch (error) {
      return exitFatal(
        log,
        `cannot listen for metrics on ${config.settings.metrics_listen_addr}:${config.settings.metrics_port}: ${(error as Error).message} (metrics_port = 0 turns it off)`,
      );
    }
  }
  const pidfile = config.settings.pidfile;
  if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);

  let stopping = false;
  const stop = (mode: 'drain' | 'wait_for_servers') => () => {
    if (stopping) return void pooler.shutdown('immediate');
    stopping = true;
    void pooler.shutdown(mode);
  };
  process.on('SIGTERM', stop('drain'));
  process.on('SIGINT', stop('wait_for_servers'));
  process.on('SIGQUIT', () => void pooler.shutdown('immediate'));
  pooler.configSource = () => loadConfig({ file: file ?? null, env: process.env });
  process.on('SIGHUP', () => {
    try {
      pooler.reloadFromSource();
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : (error as Error).message;
      log.error(`RELOAD failed, keeping the old configuration: ${message}`);
    }
  });

  await pooler.closed;
  await metrics?.close();
  if (pidfile) rmSync(pidfile, { force: true });
  log.info('pooler stopped');
  log.flush();
  setTimeout(() => process.exit(0), 50).unref();
}

/**
 * A startup failure: said on stderr as well as in the log, because a log file may not even be open
 * yet (pino's asynchronous destination refuses to flush then) and the operator must see why.
 */
function exitFatal(log: Logger, message: string): void {
  process.stderr.write(`pooler: ${message}\n`);
  log.fatal(message);
  try {
    log.flush();
  } catch {
    // the log file is not open yet; stderr has the message
  }
  setTimeout(() => process.exit(1), 100);
}
