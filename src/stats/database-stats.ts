// Counters per database, PgBouncer's SHOW STATS figures: plain numbers bumped inline on the
// forwarding path and read by the console and the metrics at scrape time.
import { clock } from '../clock.js';

/** what a counter needs to know about a server at a transaction end */
export interface TransactionSource {
  requestStart: number;
}

export class DatabaseStats {
  serverAssignments = 0;
  transactions = 0;
  queries = 0;
  /** bytes from clients */
  received = 0;
  /** bytes from servers */
  sent = 0;
  /** microseconds */
  transactionTime = 0;
  queryTime = 0;
  waitTime = 0;

  constructor(readonly database: string) {}

  countAssignment(waitedMs: number): void {
    this.serverAssignments++;
    this.waitTime += waitedMs * 1000;
  }

  countTransactionEnd(source: TransactionSource): void {
    this.transactions++;
    if (source.requestStart > 0) this.transactionTime += (clock.now - source.requestStart) * 1000;
  }

  countQuery(): void {
    this.queries++;
  }
}
