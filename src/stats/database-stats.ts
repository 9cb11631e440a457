// Counters per database, PgBouncer's SHOW STATS figures: plain numbers bumped inline on the
// forwarding path and read by the console and the metrics at scrape time, plus the latency
// histograms for wait and transaction time that SHOW LATENCY and /metrics read.
import { clock } from '../clock.js';
import { LatencyHistogram } from './latency-histogram.js';

/** what the counters need to know about a server when a request or transaction ends */
export interface RequestTimes {
  /** when the current request was sent; 0 when none is outstanding */
  requestStart: number;
  /** when the current transaction's first request was sent; 0 outside a transaction */
  xactStart: number;
}

/** the counters SHOW STATS_TOTALS prints, in its column order */
export interface StatsTotals {
  serverAssignments: number;
  transactions: number;
  queries: number;
  received: number;
  sent: number;
  transactionTime: number;
  queryTime: number;
  waitTime: number;
  clientParses: number;
  serverParses: number;
  binds: number;
}

export const STATS_FIELDS: readonly (keyof StatsTotals)[] = [
  'serverAssignments',
  'transactions',
  'queries',
  'received',
  'sent',
  'transactionTime',
  'queryTime',
  'waitTime',
  'clientParses',
  'serverParses',
  'binds',
];

export class DatabaseStats implements StatsTotals {
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
  /** prepared-statement counters; they stay 0 until prepared statements are rewritten */
  clientParses = 0;
  serverParses = 0;
  binds = 0;

  readonly waitHistogram = new LatencyHistogram();
  readonly transactionHistogram = new LatencyHistogram();

  /** clients pinned to their server (session_state = track_and_pin), by what pinned them first */
  readonly pinsByReason = new Map<string, number>();
  /** milliseconds clients spent pinned, counted when they unpin or leave */
  pinnedMs = 0;

  /** the totals at the last stats_period tick and the per-second averages over that period */
  private previous: StatsTotals | null = null;
  private previousAt = clock.now;
  averages: StatsTotals = emptyTotals();

  constructor(readonly database: string) {}

  countAssignment(waitedMs: number): void {
    this.serverAssignments++;
    this.waitTime += waitedMs * 1000;
    this.waitHistogram.record(waitedMs * 1000);
  }

  countPin(reason: string): void {
    this.pinsByReason.set(reason, (this.pinsByReason.get(reason) ?? 0) + 1);
  }

  countQuery(): void {
    this.queries++;
  }

  /** the server answered everything it owed; `idle` when it is outside a transaction now */
  countRequestEnd(times: RequestTimes, idle: boolean): void {
    const now = clock.now;
    if (times.requestStart > 0) this.queryTime += (now - times.requestStart) * 1000;
    if (!idle || times.xactStart === 0) return;
    const micros = (now - times.xactStart) * 1000;
    this.transactions++;
    this.transactionTime += micros;
    this.transactionHistogram.record(micros);
  }

  countBytes(fromClient: number, fromServer: number): void {
    this.received += fromClient;
    this.sent += fromServer;
  }

  /**
   * PgBouncer's averages over the last stats_period: counts and bytes per second, times per
   * transaction, query or server assignment, in microseconds.
   */
  updateAverages(): void {
    const now = clock.now;
    const seconds = (now - this.previousAt) / 1000;
    const before = this.previous ?? emptyTotals();
    const delta = (field: keyof StatsTotals) => this[field] - before[field];
    const perSecond = (field: keyof StatsTotals) => (seconds > 0 ? Math.round(delta(field) / seconds) : 0);
    const per = (field: keyof StatsTotals, count: keyof StatsTotals) => (delta(count) > 0 ? Math.round(delta(field) / delta(count)) : 0);
    this.averages = {
      serverAssignments: perSecond('serverAssignments'),
      transactions: perSecond('transactions'),
      queries: perSecond('queries'),
      received: perSecond('received'),
      sent: perSecond('sent'),
      transactionTime: per('transactionTime', 'transactions'),
      queryTime: per('queryTime', 'queries'),
      waitTime: per('waitTime', 'serverAssignments'),
      clientParses: perSecond('clientParses'),
      serverParses: perSecond('serverParses'),
      binds: perSecond('binds'),
    };
    this.previous = snapshot(this);
    this.previousAt = now;
  }
}

function emptyTotals(): StatsTotals {
  return Object.fromEntries(STATS_FIELDS.map((field) => [field, 0])) as unknown as StatsTotals;
}

function snapshot(totals: StatsTotals): StatsTotals {
  return Object.fromEntries(STATS_FIELDS.map((field) => [field, totals[field]])) as unknown as StatsTotals;
}
