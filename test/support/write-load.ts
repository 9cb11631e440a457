// A load of our own for failover tests: N node-postgres clients, each running short write
// transactions (BEGIN; INSERT a unique id; COMMIT) in a loop, recording every acknowledged commit,
// every error (and whether a transaction was open when it came), and how long each client stalled.
import pg from 'pg';

export interface LoadError {
  client: number;
  code: string;
  message: string;
  /** BEGIN had succeeded: the error hit a transaction in flight */
  inTransaction: boolean;
  at: number;
}

export interface LoadReport {
  /** ids whose COMMIT was acknowledged, with when (ms since the epoch) */
  acknowledged: { id: string; at: number }[];
  errors: LoadError[];
  /** the longest time one transaction took from BEGIN to the COMMIT acknowledgement, ms */
  longestStallMs: number;
}

export interface WriteLoad {
  report: LoadReport;
  stop(): Promise<LoadReport>;
}

/** `table` must have columns (id text primary key, client int) */
export function startWriteLoad(url: string, clients: number, table: string): WriteLoad {
  const report: LoadReport = { acknowledged: [], errors: [], longestStallMs: 0 };
  let running = true;
  let sequence = 0;

  async function worker(index: number): Promise<void> {
    let client: pg.Client | null = null;
    while (running) {
      if (client === null) {
        const fresh = new pg.Client({ connectionString: url });
        fresh.on('error', () => undefined);
        try {
          await fresh.connect();
          client = fresh;
        } catch (error) {
          record(index, error, false);
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
      }
      const id = `${index}-${++sequence}`;
      const started = Date.now();
      let inTransaction = false;
      try {
        await client.query('BEGIN');
        inTransaction = true;
        await client.query(`INSERT INTO ${table} (id, client) VALUES ($1, $2)`, [id, index]);
        await client.query('COMMIT');
        const now = Date.now();
        report.acknowledged.push({ id, at: now });
        report.longestStallMs = Math.max(report.longestStallMs, now - started);
      } catch (error) {
        record(index, error, inTransaction);
        // the pooler ends a client whose server died mid-transaction; start a new connection
        await client.end().catch(() => undefined);
        client = null;
      }
    }
    await client?.end().catch(() => undefined);
  }

  function record(client: number, error: unknown, inTransaction: boolean): void {
    const e = error as { code?: string; message?: string };
    report.errors.push({ client, code: e.code ?? 'none', message: e.message ?? String(error), inTransaction, at: Date.now() });
  }

  const workers = Array.from({ length: clients }, (_, i) => worker(i));
  return {
    report,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return report;
    },
  };
}
