import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';

/**
 * The test-only certificate pairs of test/fixtures/tls (README there), A and B (and one long
 * expired), all for localhost and 127.0.0.1, and what a server on 127.0.0.1 serves: for the
 * tests that replace one certificate with another while the server runs.
 */

const dir = new URL('../fixtures/tls/', import.meta.url);

export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint, as `getPeerCertificate().fingerprint256` gives it. */
  fingerprint: string;
}

function pair(cert: string, key: string): CertPair {
  const certFile = fileURLToPath(new URL(cert, dir));
  const keyFile = fileURLToPath(new URL(key, dir));
  const pem = readFileSync(certFile);
  return {
    certFile,
    keyFile,
    cert: pem,
    key: readFileSync(keyFile),
    fingerprint: new X509Certificate(pem).fingerprint256,
  };
}

export const certA = pair('cert.pem', 'key.pem');
export const certB = pair('cert-b.pem', 'key-b.pem');
/** Valid from 2020-01-01 to 2020-04-01 only: a certificate served past its end. */
export const certExpired = pair('cert-expired.pem', 'key-expired.pem');

/**
 * The SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1:`port` serves now (to a
 * new connection, closed at once). Not verified: the test compares the fingerprint instead.
 */
export function servedFingerprint(port: number, timeout = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake with 127.0.0.1:${port} within ${timeout} ms`));
    }, timeout);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fp);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
