// Recognises held bytes that are exactly one request: one simple Query, or one extended-protocol
// batch ending in its only Sync. A cancel of a client still waiting for a server can then be
// answered by the pooler, as the server would have answered it, and the request dropped.
import { FrontendCode, HEADER_LENGTH } from '../protocol/codes.js';

export function isOneRequest(bytes: Buffer): boolean {
  let offset = 0;
  let queries = 0;
  let syncs = 0;
  let last = 0;
  let messages = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < HEADER_LENGTH) return false;
    const code = bytes[offset]!;
    const end = offset + 1 + bytes.readUInt32BE(offset + 1);
    if (end > bytes.length) return false;
    switch (code) {
      case FrontendCode.Query:
        queries++;
        break;
      case FrontendCode.Sync:
        syncs++;
        break;
      case FrontendCode.Parse:
      case FrontendCode.Bind:
      case FrontendCode.Describe:
      case FrontendCode.Execute:
      case FrontendCode.Close:
      case FrontendCode.Flush:
        if (syncs > 0 || queries > 0) return false;
        break;
      default:
        // FunctionCall, COPY data, Terminate: not a request the pooler answers for the server
        return false;
    }
    last = code;
    messages++;
    offset = end;
  }
  return queries === 1 ? messages === 1 : syncs === 1 && last === FrontendCode.Sync;
}
