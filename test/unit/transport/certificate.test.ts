import { describe, expect, it } from 'vitest';
import { ConnectionClosedError } from '../../../src/errors.js';
import { certificateRejected } from '../../../src/transport/certificate.js';

/** certificateRejected(): a dial that failed on the peer's certificate, which waiting will not mend. */

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('certificateRejected', () => {
  it("knows Node's certificate verification codes, as a transport's dial error wraps them", () => {
    for (const code of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'CERT_HAS_EXPIRED',
      'CERT_NOT_YET_VALID',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      expect(certificateRejected(coded(code)), code).toBe(true);
      const dial = new ConnectionClosedError(`TLS dial to 127.0.0.1:7443 failed: ${code}`, {
        cause: coded(code),
      });
      expect(certificateRejected(dial), code).toBe(true);
      // Wrapped once more, as a CLI or a session may.
      expect(certificateRejected(new Error('outer', { cause: dial })), code).toBe(true);
    }
  });

  it('says no to failures that may mend, and to anything that is not an error', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPROTO',
      'OUT_OF_MEM',
      'FLEX_ERR_CONNECTION_CLOSED',
    ]) {
      expect(
        certificateRejected(new ConnectionClosedError('dial failed', { cause: coded(code) })),
        code,
      ).toBe(false);
    }
    for (const v of [undefined, null, 'DEPTH_ZERO_SELF_SIGNED_CERT', 42, { code: 42 }]) {
      expect(certificateRejected(v)).toBe(false);
    }
  });

  it('ends on a cause chain that loops back on itself', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(certificateRejected(a)).toBe(false);
  });
});
