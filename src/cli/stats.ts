// `pooler stats`: SHOW POOLS and SHOW STATS of a running pooler as aligned tables, or as one JSON
// document for scripts (--json).
import { connectConsole, showRows, type ConsoleOptions } from './console-client.js';
import { formatTable } from './table.js';

const POOL_COLUMNS = ['database', 'user', 'cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_used', 'sv_login', 'maxwait', 'pool_mode'];
const STATS_COLUMNS = ['database', 'total_xact_count', 'total_query_count', 'total_received', 'total_sent', 'avg_xact_count', 'avg_xact_time', 'avg_wait_time'];

export async function statsCommand(options: ConsoleOptions & { json?: boolean }): Promise<void> {
  const client = await connectConsole(options);
  try {
    const pools = await showRows(client, 'POOLS');
    const stats = await showRows(client, 'STATS');
    if (options.json) {
      process.stdout.write(JSON.stringify({ pools, stats }, null, 2) + '\n');
      return;
    }
    process.stdout.write(`pools\n${formatTable(pools, POOL_COLUMNS)}\n\nstats\n${formatTable(stats, STATS_COLUMNS)}\n`);
  } finally {
    await client.end();
  }
}
