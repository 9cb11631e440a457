#!/usr/bin/env node
// The `pooler` command: start, check-config, size, stats, top. Exit status 2 means the configuration
// is wrong; 1 that the pooler or its console could not be reached.
import { Command } from 'commander';
import { startCommand } from './start.js';
import { checkConfigCommand } from './check-config.js';
import { sizeCommand } from './size.js';
import { statsCommand } from './stats.js';
import { topCommand } from './top.js';
import { demoCommand } from '../demo/demo.js';

const program = new Command();
program.name('pooler').description('A PgBouncer-compatible PostgreSQL connection pooler');

program
  .command('start')
  .description('run the pooler (in front of DATABASE_URL, or 127.0.0.1:5432 when nothing is configured)')
  .argument('[config]', 'pooler.ini or pgbouncer.ini (same as -c)')
  .option('-c, --config <file>', 'pooler.ini or pgbouncer.ini')
  .option('-v, --verbose', 'log debug lines')
  .action(startCommand);

program
  .command('check-config')
  .description('load the configuration and print the effective settings and where each came from')
  .argument('[config]', 'pooler.ini or pgbouncer.ini (same as -c)')
  .option('-c, --config <file>', 'pooler.ini or pgbouncer.ini')
  .action(checkConfigCommand);

program
  .command('size')
  .description('print default_pool_size = auto for a server: cores × 2 + effective spindles')
  .option('--cores <n>', 'CPU cores of the PostgreSQL server', '4')
  .option('--spindles <m>', 'effective spindle count (1 for SSD/cloud storage)', '1')
  .action(sizeCommand);

/** -h/-p/-U as psql has them; commander's own --help keeps working because -h is not its short flag here */
function consoleOptions(command: Command): Command {
  return command
    .helpOption('--help', 'display help for command')
    .option('-h, --host <host>', 'the pooler\'s address (PGHOST, else 127.0.0.1)')
    .option('-p, --port <port>', 'the pooler\'s port (PGPORT, else 6432)')
    .option('-U, --user <user>', 'a user in admin_users or stats_users (PGUSER, else $USER)');
}

consoleOptions(program.command('stats'))
  .description('print SHOW POOLS and SHOW STATS of a running pooler as tables')
  .option('--json', 'one JSON document {pools, stats} for scripts')
  .action((options) => statsCommand(options));

consoleOptions(program.command('top'))
  .description('a live view of every pool, refreshed every second until Ctrl-C')
  .option('--interval <seconds>', 'seconds between refreshes', '1')
  .option('--count <n>', 'stop after n refreshes')
  .action((options) => topCommand(options));

program
  .command('demo')
  .description('a 30-second tour: a throwaway PostgreSQL, pooler in front, pgbench through it, SHOW POOLS and STATS')
  .option('--seconds <n>', 'how long pgbench runs', '10')
  .option('--clients <n>', 'pgbench clients (the pool has 5 server connections)', '20')
  .action((options) => demoCommand(options));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`pooler: ${(error as Error).message}\n`);
  process.exit(1);
}
