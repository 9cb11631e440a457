// Builders for the frontend messages the pooler sends to servers itself: startup, password and
// SASL replies, simple queries (reset, check, SET), auth_query's extended query, Terminate and
// CancelRequest.
import { CANCEL_REQUEST_CODE, FrontendCode, PROTOCOL_V3, SSL_REQUEST_CODE } from './codes.js';
import { WireWriter } from './wire-writer.js';

export function startupMessage(parameters: Record<string, string>): Buffer {
  const w = new WireWriter().int32(PROTOCOL_V3);
  for (const [name, value] of Object.entries(parameters)) w.cstring(name).cstring(value);
  w.byte(0);
  return w.untyped();
}

export function passwordMessage(password: string): Buffer {
  return new WireWriter().cstring(password).message(FrontendCode.Password);
}

export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return new WireWriter().cstring(mechanism).int32(data.length).bytes(data).message(FrontendCode.Password);
}

export function saslResponse(data: Buffer): Buffer {
  return new WireWriter().bytes(data).message(FrontendCode.Password);
}

export function queryMessage(sql: string): Buffer {
  return new WireWriter().cstring(sql).message(FrontendCode.Query);
}

/**
 * One statement over the extended protocol with text parameters — Parse, Bind, Execute, Sync of
 * the unnamed statement — so a parameter is never spliced into SQL text (auth_query's $1).
 */
export function extendedQuery(sql: string, parameters: readonly (string | null)[]): Buffer {
  const parse = new WireWriter().cstring('').cstring(sql).int16(0).message(FrontendCode.Parse);
  const bind = new WireWriter().cstring('').cstring('').int16(0).int16(parameters.length);
  for (const value of parameters) {
    if (value === null) {
      bind.int32(-1);
    } else {
      const bytes = Buffer.from(value, 'utf8');
      bind.int32(bytes.length).bytes(bytes);
    }
  }
  bind.int16(0);
  const execute = new WireWriter(8).cstring('').int32(0).message(FrontendCode.Execute);
  const sync = new WireWriter(0).message(FrontendCode.Sync);
  return Buffer.concat([parse, bind.message(FrontendCode.Bind), execute, sync]);
}

export const terminateMessage = new WireWriter(0).message(FrontendCode.Terminate);

export const syncMessage = new WireWriter(0).message(FrontendCode.Sync);

export function cancelRequest(processId: number, secretKey: number): Buffer {
  return new WireWriter(12).int32(CANCEL_REQUEST_CODE).int32(processId).int32(secretKey).untyped();
}

/** SSLRequest: asks the server to switch to TLS before the startup message */
export const sslRequest = new WireWriter(4).int32(SSL_REQUEST_CODE).untyped();
