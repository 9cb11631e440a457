// Plain-text tables for the CLI: a header, a rule, and right-aligned numbers, like psql's.
import type { Row } from './console-client.js';

export function formatTable(rows: Row[], columns: string[]): string {
  const cells = rows.map((row) => columns.map((column) => (row[column] === null || row[column] === undefined ? '' : String(row[column]))));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const numeric = columns.map((column) => rows.length > 0 && rows.every((row) => typeof row[column] === 'number'));
  const pad = (text: string, i: number) => (numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const lines = [columns.map(pad).join(' | '), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map((line) => line.map(pad).join(' | '))];
  return lines.map((line) => line.trimEnd()).join('\n');
}
