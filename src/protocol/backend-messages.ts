// Builders for the backend messages the pooler sends to clients itself: login replies, errors,
// notices, ReadyForQuery. Constant messages are built once at module load.
import { AuthCode, BackendCode, EncryptionAnswer, TxStatus } from './codes.js';
import type { PoolerError } from '../errors.js';
import { WireWriter } from './wire-writer.js';

export interface ErrorFields {
  severity: string;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fieldsMessage(code: number, fields: ErrorFields): Buffer {
  const w = new WireWriter();
  w.byte(0x53).cstring(fields.severity); // S: localized severity
  w.byte(0x56).cstring(fields.severity); // V: severity, never localized
  w.byte(0x43).cstring(fields.code); // C: SQLSTATE
  w.byte(0x4d).cstring(fields.message); // M: message
  if (fields.detail) w.byte(0x44).cstring(fields.detail); // D: detail
  if (fields.hint) w.byte(0x48).cstring(fields.hint); // H: hint
  w.byte(0);
  return w.message(code);
}

export function errorResponse(fields: ErrorFields): Buffer {
  return fieldsMessage(BackendCode.ErrorResponse, fields);
}

/** the ErrorResponse that tells a client `error`, at its own severity unless told another (a client being closed is told FATAL) */
export function errorResponseFor(error: PoolerError, severity: string = error.severity): Buffer {
  return errorResponse({ severity, code: error.sqlstate, message: error.message, detail: error.detail, hint: error.hint });
}

export function noticeResponse(fields: ErrorFields): Buffer {
  return fieldsMessage(BackendCode.NoticeResponse, fields);
}

export const authenticationOk = new WireWriter(4).int32(AuthCode.Ok).message(BackendCode.Authentication);
export const authenticationCleartext = new WireWriter(4)
  .int32(AuthCode.CleartextPassword)
  .message(BackendCode.Authentication);

export function authenticationMd5(salt: Buffer): Buffer {
  return new WireWriter(8).int32(AuthCode.MD5Password).bytes(salt).message(BackendCode.Authentication);
}

/** AuthenticationSASL offering the mechanisms we support (SCRAM-SHA-256 only, without TLS) */
export function authenticationSasl(mechanisms: string[]): Buffer {
  const w = new WireWriter().int32(AuthCode.SASL);
  for (const mechanism of mechanisms) w.cstring(mechanism);
  return w.byte(0).message(BackendCode.Authentication);
}

export function authenticationSaslContinue(data: string): Buffer {
  return new WireWriter().int32(AuthCode.SASLContinue).bytes(Buffer.from(data, 'utf8')).message(BackendCode.Authentication);
}

export function authenticationSaslFinal(data: string): Buffer {
  return new WireWriter().int32(AuthCode.SASLFinal).bytes(Buffer.from(data, 'utf8')).message(BackendCode.Authentication);
}

export function parameterStatus(name: string, value: string): Buffer {
  return new WireWriter().cstring(name).cstring(value).message(BackendCode.ParameterStatus);
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  return new WireWriter(8).int32(processId).int32(secretKey).message(BackendCode.BackendKeyData);
}

export const readyForQueryIdle = new WireWriter(1).byte(TxStatus.Idle).message(BackendCode.ReadyForQuery);

/** tell a client which minor version and which `_pq_.` options we do not support */
export function negotiateProtocolVersion(newestMinor: number, unsupportedOptions: string[]): Buffer {
  const w = new WireWriter().int32((3 << 16) | newestMinor).int32(unsupportedOptions.length);
  for (const option of unsupportedOptions) w.cstring(option);
  return w.message(BackendCode.NegotiateProtocolVersion);
}

/** the single byte that refuses an SSLRequest or GSSENCRequest */
export const refuseEncryption = Buffer.from([EncryptionAnswer.Refuse]);

/** the single byte that accepts an SSLRequest; the TLS handshake follows */
export const acceptEncryption = Buffer.from([EncryptionAnswer.Accept]);
