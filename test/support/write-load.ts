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
  /** what the client was doing: connecting, or which statement of its transaction */
  stage: 'connect' | 'BEGIN' | 'INSERT' | 'COMMIT';
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
  // ids stay unique across loads on the same table
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

  async function worker(index: number): Promise<void> {
    let client: pg.Client | null = null;
    // node-postgres reports an ErrorResponse that arrives between two queries only as an 'error'
    // event; the next query then fails with "not queryable". Keep it to record the real SQLSTATE.
    let asyncError: unknown = null;
    while (running) {
      if (client === null) {
        const fresh = new pg.Client({ connectionString: url });
        asyncError = null;
        fresh.on('error', (error) => {
          asyncError = error;
        });
        try {
          await fresh.connect();
          client = fresh;
        } catch (error) {
          record(index, error, 'connect');
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
      }
      const id = `${run}-${index}-${++sequence}`;
      const started = Date.now();
      let stage: LoadError['stage'] = 'BEGIN';
      try {
        await client.query('BEGIN');
        stage = 'INSERT';
        await client.query(`INSERT INTO ${table} (id, client) VALUES ($1, $2)`, [id, index]);
        stage = 'COMMIT';
        await client.query('COMMIT');
        const now = Date.now();
        report.acknowledged.push({ id, at: now });
        report.longestStallMs = Math.max(report.longestStallMs, now - started);
      } catch (error) {
        record(index, (error as { code?: string }).code === undefined && asyncError !== null ? asyncError : error, stage);
        // the pooler ends a client whose server died mid-transaction; start a new connection
        await client.end().catch(() => undefined);
        client = null;
      }
    }
    await client?.end().catch(() => undefined);
  }

  function record(client: number, error: unknown, stage: LoadError['stage']): void {
    const e = error as { code?: string; message?: string };
    const inTransaction = stage === 'INSERT' || stage === 'COMMIT';
    report.errors.push({ client, code: e.code ?? 'none', message: e.message ?? String(error), inTransaction, stage, at: Date.now() });
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

/** the SQLSTATEs a client may see when its transaction was in flight as the primary went away */
export const FAILOVER_ERROR_CODES = ['08006', '57P01', '57P02', '57P03', '08P01', '08001'];

/**
 * Errors that are not a clean failover error. node-postgres has no SQLSTATE to show when the
 * pooler's FATAL arrives while the client sits between two statements of its transaction (the next
 * query is "not queryable"), or when the socket closes in the middle of a message: both are the
 * transaction in flight failing, not a hang or a wrong result.
 */
export function uncleanErrors(report: LoadReport): LoadError[] {
  return report.errors.filter(
    (e) => !FAILOVER_ERROR_CODES.includes(e.code) && !(e.code === 'none' && /Connection terminated|not queryable/.test(e.message)),
  );
}

/**
 * Errors a client between transactions would have seen: a failed connect, a failed BEGIN (pooler
 * sends a BEGIN its server died under to another server), or a second error for the same client
 * (only the one transaction in flight at the move may fail).
 */
export function errorsBetweenTransactions(report: LoadReport): LoadError[] {
  const seen = new Set<number>();
  return report.errors.filter((e) => {
    const repeated = seen.has(e.client);
    seen.add(e.client);
    return e.stage === 'connect' || e.stage === 'BEGIN' || repeated;
  });
}

/** one line with the figures a failover note needs, and the promotion → first write time */
export function failoverFigures(label: string, report: LoadReport, promotedAt: number): { line: string; firstWriteMs: number | null } {
  const first = report.acknowledged.find((a) => a.at > promotedAt);
  const count = (key: (e: LoadError) => string): Record<string, number> =>
    report.errors.reduce<Record<string, number>>((acc, e) => ({ ...acc, [key(e)]: (acc[key(e)] ?? 0) + 1 }), {});
  const firstWriteMs = first === undefined ? null : first.at - promotedAt;
  const line =
    `${label}: ${report.acknowledged.length} commits, ${report.errors.length} client errors ${JSON.stringify(count((e) => e.code))} ` +
    `at ${JSON.stringify(count((e) => e.stage))}, longest stall ${report.longestStallMs} ms, ` +
    `promotion -> first write through pooler ${firstWriteMs ?? 'never'} ms; messages: ` +
    JSON.stringify([...new Set(report.errors.map((e) => e.message))]);
  return { line, firstWriteMs };
}
