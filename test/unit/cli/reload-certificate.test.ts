import { describe, expect, it } from 'vitest';
import type { PemPair } from '../../../src/cli/listeners.js';
import { certificateReload, reloadAll, type SecureListener } from '../../../src/cli/reload.js';
import { certA, certB, certExpired } from '../../helpers/certs.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * The certificate reload applies the new pair to every listener or to none: a listener that
 * refuses it must not leave those before it serving the new pair while the log says the old one
 * was kept.
 */

/** A listener that records the pair it serves, and refuses the ones `refuse` says. */
function listener(url: string, refuse: (pair: PemPair) => boolean = () => false) {
  const l = {
    url,
    serving: certA.cert,
    setSecureContext(pair: PemPair) {
      if (refuse(pair)) throw new Error(`${url} refuses this pair`);
      l.serving = pair.cert;
    },
  } satisfies SecureListener & { serving: Buffer };
  return l;
}

const isB = (pair: PemPair): boolean => pair.cert.equals(certB.cert);
const served = { cert: certA.cert, key: certA.key };

describe('certificateReload', () => {
  it('puts the listeners before one that refuses the new pair back to the old one', async () => {
    const first = listener('tls://127.0.0.1:1');
    const second = listener('wss://127.0.0.1:2/flex/ws', isB);
    const heard: PemPair[] = [];
    const item = certificateReload(certB.certFile, certB.keyFile, [first, second], served, (p) =>
      heard.push(p),
    );
    const logger = captureLogger();
    expect(await reloadAll({ items: [item], notReloaded: [] }, logger)).toEqual({
      changed: [],
      unchanged: [],
      failed: ['certificate'],
    });
    expect(first.serving.equals(certA.cert)).toBe(true);
    expect(second.serving.equals(certA.cert)).toBe(true);
    expect(heard).toEqual([]);
    expect(logger.find(/^reload: kept the old certificate/)[0]?.fields.err).toMatch(/refuses this pair/);
  });

  it('says the pair is partly applied when a listener cannot be put back', async () => {
    // The first takes B, then refuses A back; the second refuses B.
    let tookB = false;
    const first = listener('tls://127.0.0.1:1', (p) => {
      if (isB(p)) tookB = true;
      return tookB && !isB(p);
    });
    const second = listener('wss://127.0.0.1:2/flex/ws', isB);
    const item = certificateReload(certB.certFile, certB.keyFile, [first, second], served);
    const logger = captureLogger();
    expect((await reloadAll({ items: [item], notReloaded: [] }, logger)).failed).toEqual(['certificate']);
    expect(logger.find(/^reload: kept the old/)).toEqual([]);
    const [line] = logger.find(/^reload: the new certificate is partly applied/);
    expect(line?.level).toBe('error');
    expect(String(line?.fields.err)).toMatch(/tls:\/\/127\.0\.0\.1:1 could not be put back/);
  });

  it('applies the pair to every listener when all take it', async () => {
    const first = listener('tls://127.0.0.1:1');
    const second = listener('wss://127.0.0.1:2/flex/ws');
    const item = certificateReload(certB.certFile, certB.keyFile, [first, second], served);
    expect((await reloadAll({ items: [item], notReloaded: [] }, captureLogger())).changed).toEqual([
      'certificate',
    ]);
    expect(first.serving.equals(certB.cert)).toBe(true);
    expect(second.serving.equals(certB.cert)).toBe(true);
  });

  it('refuses a certificate that has expired, and keeps the one in use', async () => {
    const l = listener('tls://127.0.0.1:1');
    const heard: PemPair[] = [];
    const item = certificateReload(certExpired.certFile, certExpired.keyFile, [l], served, (p) =>
      heard.push(p),
    );
    const logger = captureLogger();
    expect((await reloadAll({ items: [item], notReloaded: [] }, logger)).failed).toEqual(['certificate']);
    expect(l.serving.equals(certA.cert)).toBe(true);
    expect(heard).toEqual([]);
    const [line] = logger.find(/^reload: kept the old certificate/);
    expect(line?.level).toBe('error');
    expect(line?.fields.err).toContain(`${certExpired.certFile} expired on 2020-04-01T00:00:00.000Z`);
  });

  it('refuses a certificate that is not valid yet, and takes it once it is', async () => {
    const l = listener('tls://127.0.0.1:1');
    // certExpired is valid from 2020-01-01 to 2020-04-01: the clock is set before, then within.
    let now = Date.UTC(2019, 11, 31);
    const item = certificateReload(
      certExpired.certFile,
      certExpired.keyFile,
      [l],
      served,
      undefined,
      () => now,
    );
    const logger = captureLogger();
    expect((await reloadAll({ items: [item], notReloaded: [] }, logger)).failed).toEqual(['certificate']);
    expect(l.serving.equals(certA.cert)).toBe(true);
    expect(logger.find(/^reload: kept the old certificate/)[0]?.fields.err).toContain(
      'is not valid before 2020-01-01T00:00:00.000Z',
    );
    now = Date.UTC(2020, 1, 1);
    expect((await reloadAll({ items: [item], notReloaded: [] }, captureLogger())).changed).toEqual([
      'certificate',
    ]);
    expect(l.serving.equals(certExpired.cert)).toBe(true);
  });
});
