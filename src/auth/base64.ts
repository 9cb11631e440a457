// Strict base64 decoding for SCRAM messages and stored secrets. Node's own decoder skips
// characters outside the alphabet, which would quietly turn a malformed value into other bytes.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** the decoded bytes, or null unless `text` is canonical padded base64 (RFC 4648 §4) */
export function decodeBase64Strict(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}
