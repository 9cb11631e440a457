// Decoders for the few message bodies the pooler must read: startup packets, ErrorResponse and
// NoticeResponse fields, ParameterStatus, Authentication requests, BackendKeyData, DataRow.
import { PoolerError, SqlState } from '../errors.js';
import { CANCEL_REQUEST_CODE, ErrorField, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './codes.js';

export type FirstMessage =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; major: number; minor: number; parameters: Map<string, string> }
  | { kind: 'invalid'; reason: string };

/** decode an untyped first message; `packet` includes its int32 length */
export function decodeFirstMessage(packet: Buffer): FirstMessage {
  if (packet.length < 8) return { kind: 'invalid', reason: 'startup packet too short' };
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE) {
    if (packet.length !== 16) return { kind: 'invalid', reason: 'invalid length of cancel request' };
    return { kind: 'cancel', processId: packet.readInt32BE(8), secretKey: packet.readInt32BE(12) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  const parameters = new Map<string, string>();
  let offset = 8;
  while (offset < packet.length) {
    const nameEnd = packet.indexOf(0, offset);
    if (nameEnd < 0) return { kind: 'invalid', reason: 'startup packet has an unterminated parameter name' };
    if (nameEnd === offset) break; // the empty name that ends the list
    const valueEnd = packet.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) return { kind: 'invalid', reason: 'startup packet has an unterminated parameter value' };
    parameters.set(packet.toString('utf8', offset, nameEnd), packet.toString('utf8', nameEnd + 1, valueEnd));
    offset = valueEnd + 1;
  }
  return { kind: 'startup', major, minor, parameters };
}

/** the fields of an ErrorResponse or NoticeResponse, keyed by their one-letter field codes */
export function decodeFields(message: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 5;
  while (offset < message.length && message[offset] !== 0) {
    const type = String.fromCharCode(message[offset]!);
    const end = message.indexOf(0, offset + 1);
    if (end < 0) break;
    fields[type] = message.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return fields;
}

/**
 * a server's ErrorResponse (or NoticeResponse) as the error to pass on: its SQLSTATE, severity
 * (the unlocalized 'V' where the server sends one), message, detail and hint, as it sent them
 */
export function decodeServerError(message: Buffer): PoolerError {
  const fields = decodeFields(message);
  return new PoolerError(
    'SERVER_ERROR',
    fields[ErrorField.Code] ?? SqlState.internalError,
    fields[ErrorField.Message] ?? 'unknown server error',
    fields[ErrorField.SeverityUnlocalized] ?? fields[ErrorField.Severity] ?? 'ERROR',
    fields[ErrorField.Detail] || undefined,
    fields[ErrorField.Hint] || undefined,
  );
}

/** one ASCII field of an ErrorResponse/NoticeResponse ('C' the SQLSTATE, 'V' the severity), without decoding the others */
export function decodeField(message: Buffer, type: string): string | null {
  const wanted = type.charCodeAt(0);
  let offset = 5;
  while (offset < message.length && message[offset] !== 0) {
    const end = message.indexOf(0, offset + 1);
    if (end < 0) return null;
    if (message[offset] === wanted) return message.toString('latin1', offset + 1, end);
    offset = end + 1;
  }
  return null;
}

export function decodeParameterStatus(message: Buffer): [string, string] {
  const nameEnd = message.indexOf(0, 5);
  const valueEnd = message.indexOf(0, nameEnd + 1);
  return [message.toString('utf8', 5, nameEnd), message.toString('utf8', nameEnd + 1, valueEnd)];
}

/** the C-string body of a simple Query message */
export function decodeQueryText(message: Buffer): string {
  const end = message.indexOf(0, 5);
  return message.toString('utf8', 5, end < 0 ? message.length : end);
}

/** the columns of a DataRow as text, null for SQL NULL (auth_query reads one row) */
export function decodeDataRow(message: Buffer): (string | null)[] {
  const count = message.readInt16BE(5);
  const columns: (string | null)[] = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const length = message.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      columns.push(null);
    } else {
      columns.push(message.toString('utf8', offset, offset + length));
      offset += length;
    }
  }
  return columns;
}
