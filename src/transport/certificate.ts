/**
 * Telling a dial that failed on the peer's certificate from one that failed on the network. A
 * switcher that is down or restarting comes back by itself; a certificate this client does not
 * trust (self-signed, signed by an unknown CA, expired, for another name) stays untrusted until
 * someone changes it or the client's CA list, so a task that waits for the switcher must not wait
 * it out. Runtime-neutral: only `code` strings are looked at (a browser's WebSocket reports no
 * such code, and so nothing here).
 */

import { causeChain } from '../util/cause.js';

/**
 * The codes Node.js gives a TLS client's verification failures: OpenSSL's X509_V_ERR_* names
 * without the prefix, and Node's own for a name the certificate does not cover. (OUT_OF_MEM, an
 * X509_V_ERR too, is left out: it is no fault of the certificate.)
 */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

/**
 * Whether `err`, or an error in its `cause` chain, is a rejection of the peer's certificate: a
 * transport's failed dial wraps Node's TLS error (its `code` as above) as its cause.
 */
export function certificateRejected(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return true;
  }
  return false;
}
