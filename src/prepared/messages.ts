// The wire work of prepared-statement rewriting: reading statement names out of Parse, Bind,
// Describe and Close, building those messages again with the shared server-side name, and the
// constant replies the pooler answers with itself.
// @see https://www.postgresql.org/docs/current/protocol-message-formats.html
import { randomBytes } from 'node:crypto';
import { BackendCode, DescribeTarget, FrontendCode, HEADER_LENGTH } from '../protocol/codes.js';


/**
 * Server-side statement names start with this: random per process, so no client can guess one and
 * prepare its own SQL under it for another client's Bind to run.
 */
export const SERVER_NAME_PREFIX = `POOLER_${randomBytes(6).toString('hex')}_`;

/** where a NUL-terminated name starts and ends (exclusive of the NUL) inside a message */
export interface NameSpan {
  start: number;
  end: number;
}

/** the end (the NUL's index) of the C string starting at `start`, or -1 past `limit` */
export function cstringEnd(buffer: Buffer, start: number, limit: number): number {
  const end = buffer.indexOf(0, start);
  return end < 0 || end >= limit ? -1 : end;
}

/** a message rebuilt with bytes [nameStart, nameEnd) replaced by `name`; the rest is copied as is */
export function replaceName(buffer: Buffer, offset: number, total: number, nameStart: number, nameEnd: number, name: Buffer): Buffer {
  const length = total - (nameEnd - nameStart) + name.length;
  const out = Buffer.allocUnsafe(length);
  buffer.copy(out, 0, offset, nameStart);
  out.writeUInt32BE(length - 1, 1);
  name.copy(out, nameStart - offset);
  buffer.copy(out, nameStart - offset + name.length, nameEnd, offset + total);
  return out;
}

/** Parse with the server-side name and the body (query, parameter types) the statement was keyed by */
export function parseMessage(serverName: Buffer, body: Buffer): Buffer {
  const length = 4 + serverName.length + 1 + body.length;
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = FrontendCode.Parse;
  out.writeUInt32BE(length, 1);
  serverName.copy(out, HEADER_LENGTH);
  out[HEADER_LENGTH + serverName.length] = 0;
  body.copy(out, HEADER_LENGTH + serverName.length + 1);
  return out;
}

/** Close or Describe of a statement ('S') by name */
export function statementMessage(code: number, serverName: Buffer): Buffer {
  const length = 4 + 1 + serverName.length + 1;
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = code;
  out.writeUInt32BE(length, 1);
  out[HEADER_LENGTH] = DescribeTarget.Statement;
  serverName.copy(out, HEADER_LENGTH + 1);
  out[HEADER_LENGTH + 1 + serverName.length] = 0;
  return out;
}


function empty(code: number): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  out[0] = code;
  out.writeUInt32BE(4, 1);
  return out;
}

export const parseComplete = empty(BackendCode.ParseComplete);
export const bindComplete = empty(BackendCode.BindComplete);
export const closeComplete = empty(BackendCode.CloseComplete);

/**
 * Sent in place of a statement the pooler refuses (unknown or duplicate name): describing a name
 * the pooler never creates makes the server fail exactly there, so it skips to Sync and aborts an
 * open transaction as PostgreSQL would have, and its ErrorResponse is replaced by the pooler's.
 */
export const REFUSED_NAME = Buffer.from(`${SERVER_NAME_PREFIX}refused`);
export const refusedProbe = statementMessage(FrontendCode.Describe, REFUSED_NAME);

/**
 * CommandComplete tags of SQL-level PREPARE and DEALLOCATE of one name: a client that runs them may
 * have replaced or dropped a statement the pooler prepared there (its name shows in
 * pg_prepared_statements), so that server's statements can no longer be trusted.
 */
const TAMPER_TAGS = [Buffer.from('PREPARE\0'), Buffer.from('DEALLOCATE\0')];

export function tampersWithStatements(buffer: Buffer, offset: number, total: number): boolean {
  return hasTag(TAMPER_TAGS, buffer, offset, total);
}

/** CommandComplete tags after which the server holds no prepared statements any more */
const FORGET_ALL_TAGS = [Buffer.from('DISCARD ALL\0'), Buffer.from('DEALLOCATE ALL\0')];

export function forgetsAllStatements(buffer: Buffer, offset: number, total: number): boolean {
  return hasTag(FORGET_ALL_TAGS, buffer, offset, total);
}

function hasTag(tags: Buffer[], buffer: Buffer, offset: number, total: number): boolean {
  for (const tag of tags) {
    if (total === HEADER_LENGTH + tag.length && buffer.compare(tag, 0, tag.length, offset + HEADER_LENGTH, offset + total) === 0) return true;
  }
  return false;
}
