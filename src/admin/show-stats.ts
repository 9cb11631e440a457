// SHOW STATS, STATS_TOTALS, STATS_AVERAGES and TOTALS with PgBouncer 1.25.2's columns (totals since
// start, averages over the last stats_period), and SHOW LATENCY, ours: wait and transaction time
// quantiles per database from the histograms.
import type { ConsoleView } from './console-context.js';
import { STATS_FIELDS, type StatsTotals } from '../stats/database-stats.js';
import { numeric, text, type Column, type ResultSet } from './result-set.js';

/** the column stems of SHOW STATS_TOTALS, in STATS_FIELDS order */
const TOTALS_NAMES = [
  'server_assignment_count',
  'xact_count',
  'query_count',
  'bytes_received',
  'bytes_sent',
  'xact_time',
  'query_time',
  'wait_time',
  'client_parse_count',
  'server_parse_count',
  'bind_count',
];
/** SHOW STATS calls bytes `received` and `sent` */
const STATS_NAMES = TOTALS_NAMES.map((name) => (name === 'bytes_received' ? 'received' : name === 'bytes_sent' ? 'sent' : name));
/** SHOW TOTALS uses PgBouncer's internal field names */
const TOTALS_ROW_NAMES = TOTALS_NAMES.map((name) =>
  name === 'bytes_received' ? 'client_bytes' : name === 'bytes_sent' ? 'server_bytes' : name.endsWith('parse_count') || name === 'bind_count' ? `ps_${name}` : name,
);
/** SHOW STATS' averages: `avg_recv` but `avg_sent` */
const AVERAGE_NAMES = STATS_NAMES.map((name) => (name === 'received' ? 'recv' : name));

function values(totals: StatsTotals): number[] {
  return STATS_FIELDS.map((field) => totals[field]);
}

function databaseRows(view: ConsoleView, row: (totals: StatsTotals, averages: StatsTotals) => number[]): (string | number)[][] {
  return view.stats().map((stats) => [stats.database, ...row(stats, stats.averages)]);
}

export function showStats(view: ConsoleView): ResultSet {
  const columns: Column[] = [text('database'), ...STATS_NAMES.map((n) => numeric(`total_${n}`)), ...AVERAGE_NAMES.map((n) => numeric(`avg_${n}`))];
  return { columns, rows: databaseRows(view, (totals, averages) => [...values(totals), ...values(averages)]), tag: 'SHOW' };
}

export function showStatsTotals(view: ConsoleView): ResultSet {
  const columns: Column[] = [text('database'), ...TOTALS_NAMES.map((n) => numeric(n))];
  return { columns, rows: databaseRows(view, (totals) => values(totals)), tag: 'SHOW' };
}

export function showStatsAverages(view: ConsoleView): ResultSet {
  const names = TOTALS_NAMES.map((n, i) => (i >= 8 ? `avg_${n}` : n));
  const columns: Column[] = [text('database'), ...names.map((n) => numeric(n))];
  return { columns, rows: databaseRows(view, (_totals, averages) => values(averages)), tag: 'SHOW' };
}

export function showTotals(view: ConsoleView): ResultSet {
  const sum = new Array<number>(STATS_FIELDS.length).fill(0);
  const avg = new Array<number>(STATS_FIELDS.length).fill(0);
  for (const stats of view.stats()) {
    values(stats).forEach((v, i) => (sum[i]! += v));
    values(stats.averages).forEach((v, i) => (avg[i]! += v));
  }
  const rows = [
    ...TOTALS_ROW_NAMES.map((name, i) => [`total_${name}`, sum[i]!]),
    ...TOTALS_ROW_NAMES.map((name, i) => [`avg_${name}`, avg[i]!]),
  ];
  return { columns: [text('name'), numeric('value')], rows, tag: 'SHOW' };
}

export function showLatency(view: ConsoleView): ResultSet {
  const columns: Column[] = [
    text('database'),
    numeric('xact_count'),
    numeric('wait_p50_us'),
    numeric('wait_p95_us'),
    numeric('wait_p99_us'),
    numeric('xact_p50_us'),
    numeric('xact_p95_us'),
    numeric('xact_p99_us'),
  ];
  const rows = view.stats().map((stats) => {
    const wait = stats.waitHistogram;
    const xact = stats.transactionHistogram;
    const q = (h: typeof wait, p: number) => Math.round(h.quantile(p));
    return [stats.database, xact.count, q(wait, 0.5), q(wait, 0.95), q(wait, 0.99), q(xact, 0.5), q(xact, 0.95), q(xact, 0.99)];
  });
  return { columns, rows, tag: 'SHOW' };
}
