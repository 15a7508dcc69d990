import { describe, expect, it } from 'vitest';
import {
  AdmissionError,
  type AdmissionReason,
  ConnectionClosedError,
  ProtocolError,
  TimeoutError,
} from '../../../src/errors.js';
import { refusedForGood } from '../../../src/node/refusal.js';
import { dialFailure } from '../../../src/transport/tls-failure.js';

/** The one classification that session.ready() and the CLI's waiting sessions share. */

const admission = (reason: AdmissionReason, errCode = -1): AdmissionError =>
  new AdmissionError('refused', errCode, { reason });

describe('refusedForGood', () => {
  it('gives up on refusals that the next attempt meets again', () => {
    for (const reason of ['decrypt', 'json', 'version', 'rejected'] as const) {
      expect(refusedForGood(admission(reason)), reason).toBe(true);
    }
  });

  it('waits through a registration refusal (a holder may leave, or be a node’s own stale connection) and a close before any reply', () => {
    expect(refusedForGood(new AdmissionError('handshake rejected', -2))).toBe(false);
    expect(refusedForGood(new AdmissionError('closed during admission', 0))).toBe(false);
  });

  it('gives up on a port that answers in another protocol and on an untrusted certificate', () => {
    expect(refusedForGood(new ProtocolError('the switcher answered in HTTP'))).toBe(true);
    // The Node.js dials' failures, as dialFailure gives them to the error they reject with.
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const { cause: untrusted } = dialFailure(tls);
    expect(refusedForGood(new ConnectionClosedError('connect failed', { cause: untrusted }))).toBe(true);
    // A tls:// or wss:// URL given a plain port.
    const plain = Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    const { cause: notTls } = dialFailure(plain);
    expect(refusedForGood(new ConnectionClosedError('not in TLS', { cause: notTls }))).toBe(true);
    // The codes alone decide nothing: only a dial's failure is marked (a browser reports none).
    const unmarked = Object.assign(new Error('self-signed certificate'), {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(refusedForGood(new ConnectionClosedError('connect failed', { cause: unmarked }))).toBe(false);
  });

  it('waits through a switcher that cannot be reached or does not answer in time', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(
      refusedForGood(new ConnectionClosedError('connect failed', { cause: dialFailure(refused).cause })),
    ).toBe(false);
    expect(refusedForGood(new TimeoutError('no admission response within 10000 ms'))).toBe(false);
    expect(refusedForGood('not an error')).toBe(false);
  });
});
