// What a console command returns (columns with PgBouncer's types, text rows, the command tag,
// notices) and its encoding as RowDescription, DataRow and CommandComplete messages.
import { noticeResponse, type ErrorFields } from '../protocol/backend-messages.js';
import { BackendCode } from '../protocol/codes.js';
import { WireWriter } from '../protocol/wire-writer.js';

/** PgBouncer's RowDescription type letters: s text, i int4, q int8, N numeric, T timestamp as text */
export type ColumnType = 'text' | 'int4' | 'int8' | 'numeric';

const TYPE_OID: Record<ColumnType, number> = { text: 25, int4: 23, int8: 20, numeric: 1700 };
const TYPE_SIZE: Record<ColumnType, number> = { text: -1, int4: 4, int8: 8, numeric: -1 };

export interface Column {
  name: string;
  type: ColumnType;
}

export type Cell = string | number | null;

export interface ResultSet {
  /** null for a command that returns no rows (PAUSE, RELOAD, ...) */
  columns: readonly Column[] | null;
  rows: Cell[][];
  /** the CommandComplete tag: SHOW, PAUSE, ... */
  tag: string;
  notices?: ErrorFields[];
}

export function text(name: string): Column {
  return { name, type: 'text' };
}
export function int4(name: string): Column {
  return { name, type: 'int4' };
}
export function int8(name: string): Column {
  return { name, type: 'int8' };
}
export function numeric(name: string): Column {
  return { name, type: 'numeric' };
}

export function rowDescription(columns: readonly Column[]): Buffer {
  const w = new WireWriter().int16(columns.length);
  for (const column of columns) {
    w.cstring(column.name).int32(0).int16(0).int32(TYPE_OID[column.type]).int16(TYPE_SIZE[column.type]).int32(-1).int16(0);
  }
  return w.message(BackendCode.RowDescription);
}

export function dataRow(row: readonly Cell[]): Buffer {
  const w = new WireWriter().int16(row.length);
  for (const cell of row) {
    if (cell === null) {
      w.int32(-1);
      continue;
    }
    const value = Buffer.from(String(cell), 'utf8');
    w.int32(value.length).bytes(value);
  }
  return w.message(BackendCode.DataRow);
}

export function commandComplete(tag: string): Buffer {
  return new WireWriter().cstring(tag).message(BackendCode.CommandComplete);
}

/** notices, then the rows (without RowDescription when `describe` is false), then CommandComplete */
export function encodeResult(result: ResultSet, describe: boolean): Buffer[] {
  const out: Buffer[] = (result.notices ?? []).map((notice) => noticeResponse(notice));
  if (result.columns !== null && describe) out.push(rowDescription(result.columns));
  for (const row of result.rows) out.push(dataRow(row));
  out.push(commandComplete(result.tag));
  return out;
}
