// `pooler top`: a live view, refreshed every second until Ctrl-C, of each pool's clients and
// servers, transactions per second (from the change in total_xact_count) and wait p99.
import { connectConsole, showRows, type ConsoleOptions, type Row } from './console-client.js';
import { formatTable } from './table.js';

const COLUMNS = ['database', 'user', 'cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'tps', 'wait_p99_ms'];

export async function topCommand(options: ConsoleOptions & { interval?: string; count?: string }): Promise<void> {
  const client = await connectConsole(options);
  const intervalMs = Math.max(100, Number(options.interval ?? 1) * 1000);
  const rounds = options.count === undefined ? Infinity : Number(options.count);
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  const interactive = process.stdout.isTTY === true;
  let previous = new Map<string, number>();
  let previousAt = Date.now();
  try {
    for (let round = 0; round < rounds && !stopped; round++) {
      const pools = await showRows(client, 'POOLS');
      const stats = await showRows(client, 'STATS');
      const latency = await showRows(client, 'LATENCY');
      const now = Date.now();
      const xacts = new Map(stats.map((row) => [String(row.database), Number(row.total_xact_count)]));
      const waits = new Map(latency.map((row) => [String(row.database), Number(row.wait_p99_us)]));
      const seconds = (now - previousAt) / 1000;
      const rows: Row[] = pools.map((pool) => {
        const database = String(pool.database);
        const before = previous.get(database);
        const tps = before === undefined || seconds <= 0 ? 0 : Math.round((xacts.get(database)! - before) / seconds);
        return { ...pool, tps: Number.isFinite(tps) ? tps : 0, wait_p99_ms: Math.round((waits.get(database) ?? 0) / 100) / 10 };
      });
      previous = xacts;
      previousAt = now;
      const frame = `pooler top — ${new Date(now).toISOString()} (Ctrl-C to stop)\n\n${formatTable(rows, COLUMNS)}\n`;
      process.stdout.write(interactive ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`);
      if (round + 1 < rounds && !stopped) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    await client.end();
  }
}
