#!/usr/bin/env node
// The `pooler` command: start, check-config, size. Exit status 2 means the configuration is wrong.
import { Command } from 'commander';
import { startCommand } from './start.js';
import { checkConfigCommand } from './check-config.js';
import { sizeCommand } from './size.js';

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

await program.parseAsync(process.argv);
