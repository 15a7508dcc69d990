import { readFileSync } from 'node:fs';

/** The test-only self-signed pair in test/fixtures/tls (CN localhost, SAN 127.0.0.1). */
const dir = new URL('../../fixtures/tls/', import.meta.url);
export const key = readFileSync(new URL('key.pem', dir));
export const cert = readFileSync(new URL('cert.pem', dir));
