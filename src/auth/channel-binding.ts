// tls-server-end-point channel binding (RFC 5929) for SCRAM-SHA-256-PLUS: the hash of the
// pooler's own TLS certificate, with the hash of the certificate's signature algorithm, SHA-256
// for MD5 and SHA-1 and when it cannot be told (as PostgreSQL's be_tls_get_certificate_hash).
import { createHash } from 'node:crypto';

/** DER-encoded OIDs of signature algorithms, and the hash each binds with */
const SIGNATURE_HASHES: [Buffer, string][] = [
  [Buffer.from('06092a864886f70d01010c', 'hex'), 'sha384'], // sha384WithRSAEncryption
  [Buffer.from('06092a864886f70d01010d', 'hex'), 'sha512'], // sha512WithRSAEncryption
  [Buffer.from('06082a8648ce3d040303', 'hex'), 'sha384'], // ecdsa-with-SHA384
  [Buffer.from('06082a8648ce3d040304', 'hex'), 'sha512'], // ecdsa-with-SHA512
];

/**
 * The hash to bind with. The tbsCertificate's signature AlgorithmIdentifier is the first of these
 * OIDs in the DER (the public key's own OID differs), so a search finds it without an ASN.1 parser.
 */
function signatureHash(certificate: Buffer): string {
  let best = { at: Infinity, hash: 'sha256' };
  for (const [oid, hash] of SIGNATURE_HASHES) {
    const at = certificate.indexOf(oid);
    if (at >= 0 && at < best.at) best = { at, hash };
  }
  // sha256WithRSAEncryption, ecdsa-with-SHA256, and anything weaker or unknown
  const sha256At = Math.min(
    ...[Buffer.from('06092a864886f70d01010b', 'hex'), Buffer.from('06082a8648ce3d040302', 'hex')]
      .map((oid) => certificate.indexOf(oid))
      .filter((at) => at >= 0),
  );
  return sha256At < best.at ? 'sha256' : best.hash;
}

export function tlsServerEndPoint(certificate: Buffer): Buffer {
  return createHash(signatureHash(certificate)).update(certificate).digest();
}
