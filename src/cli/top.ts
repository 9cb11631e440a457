// `pooler top`: a live view, refreshed every second until Ctrl-C, of each pool's clients and
// servers, transactions per second (from the change in total_xact_count) and wait p99; then, for
// databases with several hosts or Patroni, one line per host: role, health, lag, servers and tps.
import { connectConsole, showRows, type ConsoleOptions, type Row } from './console-client.js';
import { formatTable } from './table.js';

const COLUMNS = ['database', 'user', 'cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'tps', 'wait_p99_ms'];
const HOST_COLUMNS = ['database', 'host', 'role', 'state', 'lag_bytes', 'lag_seconds', 'replay_lsn', 'sv_active', 'sv_idle', 'tps'];

/** per second, from a counter's change since the last frame; 0 on the first */
function rate(before: number | undefined, now: number, seconds: number): number {
  const perSecond = before === undefined || seconds <= 0 ? 0 : Math.round((now - before) / seconds);
  return Number.isFinite(perSecond) ? perSecond : 0;
}

/**
 * SHOW HOSTS rows worth a line: the hosts of databases with a choice of host (several, or any the
 * monitor checks). A single static host is already the pool line above.
 */
function replicaRows(hosts: Row[], previous: Map<string, number>, seconds: number): Row[] {
  const count = new Map<string, number>();
  for (const row of hosts) count.set(String(row.database), (count.get(String(row.database)) ?? 0) + 1);
  return hosts
    .filter((row) => count.get(String(row.database))! > 1 || row.checked_at !== null)
    .map((row) => ({
      database: row.database,
      host: `${row.host}:${row.port}`,
      role: row.role,
      state: row.lagging === 1 ? 'lagging' : row.state,
      lag_bytes: row.lag_bytes,
      lag_seconds: row.lag_seconds,
      replay_lsn: row.replay_lsn,
      sv_active: row.active_servers,
      sv_idle: row.idle_servers,
      tps: rate(previous.get(hostKey(row)), Number(row.transactions), seconds),
    }));
}

const hostKey = (row: Row) => `${row.database} ${row.host}:${row.port}`;

export async function topCommand(options: ConsoleOptions & { interval?: string; count?: string }): Promise<void> {
  const client = await connectConsole(options);
  const intervalMs = Math.max(100, Number(options.interval ?? 1) * 1000);
  const rounds = options.count === undefined ? Infinity : Number(options.count);
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  const interactive = process.stdout.isTTY === true;
  let previous = new Map<string, number>();
  let previousHosts = new Map<string, number>();
  let previousAt = Date.now();
  try {
    for (let round = 0; round < rounds && !stopped; round++) {
      const pools = await showRows(client, 'POOLS');
      const stats = await showRows(client, 'STATS');
      const latency = await showRows(client, 'LATENCY');
      const hosts = await showRows(client, 'HOSTS');
      const now = Date.now();
      const xacts = new Map(stats.map((row) => [String(row.database), Number(row.total_xact_count)]));
      const waits = new Map(latency.map((row) => [String(row.database), Number(row.wait_p99_us)]));
      const seconds = (now - previousAt) / 1000;
      const rows: Row[] = pools.map((pool) => {
        const database = String(pool.database);
        return { ...pool, tps: rate(previous.get(database), xacts.get(database)!, seconds), wait_p99_ms: Math.round((waits.get(database) ?? 0) / 100) / 10 };
      });
      const replicas = replicaRows(hosts, previousHosts, seconds);
      previous = xacts;
      previousHosts = new Map(hosts.map((row) => [hostKey(row), Number(row.transactions)]));
      previousAt = now;
      let frame = `pooler top — ${new Date(now).toISOString()} (Ctrl-C to stop)\n\n${formatTable(rows, COLUMNS)}\n`;
      if (replicas.length > 0) frame += `\nhosts\n${formatTable(replicas, HOST_COLUMNS)}\n`;
      process.stdout.write(interactive ? `\x1b[H\x1b[2J${frame}` : `${frame}\n`);
      if (round + 1 < rounds && !stopped) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    await client.end();
  }
}
