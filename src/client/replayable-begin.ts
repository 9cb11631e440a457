// Recognises a client's chunk that is exactly one simple-protocol Query holding one BEGIN or START
// TRANSACTION: a statement with no effects, so when its server dies unanswered it can be sent again.
import { FrontendCode, HEADER_LENGTH } from '../protocol/codes.js';

/** BEGIN / START TRANSACTION with any options, and no second statement (no ';' except at the end) */
const LONE_BEGIN = /^\s*(?:begin|start\s+transaction)\b[^;]*;?\s*$/i;

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
/** setting this bit turns an ASCII capital into its small letter */
const LOWER_CASE = 0x20;

/** longer than any BEGIN with every option spelled out: anything bigger is not worth decoding */
const MAX_BEGIN_MESSAGE = 256;

export function isLoneBegin(chunk: Buffer): boolean {
  if (chunk.length <= HEADER_LENGTH || chunk.length > MAX_BEGIN_MESSAGE || chunk[0] !== FrontendCode.Query) return false;
  if (chunk.readUInt32BE(1) + 1 !== chunk.length || chunk[chunk.length - 1] !== 0) return false;
  // every transaction start of a client in transaction mode passes here: decode only "be…" and "st…"
  let start = HEADER_LENGTH;
  // the chunk ends in a zero byte, which stops this loop
  while (WHITESPACE.has(chunk[start] ?? 0)) start++;
  const first = (chunk[start] ?? 0) | LOWER_CASE;
  const second = (chunk[start + 1] ?? 0) | LOWER_CASE;
  if (!(first === 0x62 && second === 0x65) && !(first === 0x73 && second === 0x74)) return false;
  return LONE_BEGIN.test(chunk.toString('utf8', HEADER_LENGTH, chunk.length - 1));
}
