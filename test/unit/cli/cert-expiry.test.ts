import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateExpiry, EXPIRY_WARNING, leafNotAfter } from '../../../src/cli/cert-expiry.js';
import { certA, certB, certExpired } from '../../helpers/certs.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * What the switcher says of its certificate's expiry (src/cli/cert-expiry.ts), against a clock the
 * test sets: nothing while it is far, a warning within 14 days, an error once it has passed.
 */

const DAY = 86_400_000;
const notAfterA = Date.parse(new X509Certificate(certA.cert).validTo);

/** A CertificateExpiry serving certificate A, and the clock it reads. */
function servingA(): {
  expiry: CertificateExpiry;
  log: ReturnType<typeof captureLogger>;
  at: (t: number) => void;
} {
  let now = 0;
  const log = captureLogger();
  const expiry = new CertificateExpiry(['tls'], '/etc/fullchain.pem', log, () => now);
  expiry.serve(certA.cert);
  return {
    expiry,
    log,
    at: (t) => {
      now = t;
    },
  };
}

describe('the certificate expiry', () => {
  it('is the notAfter of the first certificate of a chain', () => {
    expect(leafNotAfter(certA.cert)).toBe(notAfterA);
    // B's notAfter differs from A's: the order of the chain decides.
    const notAfterB = Date.parse(new X509Certificate(certB.cert).validTo);
    expect(notAfterB).not.toBe(notAfterA);
    expect(leafNotAfter(Buffer.concat([certB.cert, certA.cert]))).toBe(notAfterB);
    expect(leafNotAfter(Buffer.concat([certA.cert, certB.cert]))).toBe(notAfterA);
  });

  it('reads every form OpenSSL prints a notAfter in, to the second', () => {
    // A GeneralizedTime past 2049 with a two-digit day: `Nov  1 11:52:42 2126 GMT`.
    expect(new Date(leafNotAfter(certA.cert)).toISOString()).toBe('2126-11-01T11:52:42.000Z');
    // The same with a one-digit day, which OpenSSL pads with a space: `Nov  3 02:05:00 2126 GMT`.
    expect(new X509Certificate(certB.cert).validTo).toMatch(/^Nov {2}3 /);
    expect(new Date(leafNotAfter(certB.cert)).toISOString()).toBe('2126-11-03T02:05:00.000Z');
    // A UTCTime (a year before 2050): `Apr  1 00:00:00 2020 GMT`.
    expect(new Date(leafNotAfter(certExpired.cert)).toISOString()).toBe('2020-04-01T00:00:00.000Z');
  });

  it('takes the Date a newer Node gives, where there is one, over parsing the text', () => {
    // Node 22.10 added validToDate; on older ones the test gives it one that differs from the text.
    const given = new Date('2222-02-02T02:02:02.000Z');
    const had = Object.getOwnPropertyDescriptor(X509Certificate.prototype, 'validToDate');
    Object.defineProperty(X509Certificate.prototype, 'validToDate', { configurable: true, get: () => given });
    try {
      expect(leafNotAfter(certA.cert)).toBe(given.getTime());
    } finally {
      if (had) Object.defineProperty(X509Certificate.prototype, 'validToDate', had);
      else delete (X509Certificate.prototype as { validToDate?: Date }).validToDate;
    }
  });

  it('says nothing while more than 14 days are left', () => {
    const { expiry, log, at } = servingA();
    expect(expiry.notAfter).toBe(notAfterA);
    at(notAfterA - 300 * DAY);
    expiry.check();
    at(notAfterA - EXPIRY_WARNING);
    expiry.check();
    expect(log.entries).toEqual([]);
  });

  it('warns within 14 days, with the date and the days left', () => {
    const { expiry, log, at } = servingA();
    at(notAfterA - EXPIRY_WARNING + 1);
    expiry.check();
    at(notAfterA - 3.5 * DAY);
    expiry.check();
    at(notAfterA - DAY);
    expiry.check();
    at(notAfterA - 60_000);
    expiry.check();
    at(notAfterA);
    expiry.check();
    const iso = new Date(notAfterA).toISOString();
    expect(log.entries.map((e) => [e.level, e.msg, e.fields.daysLeft])).toEqual([
      ['warn', `the certificate served expires in 13 days (${iso}): renew it and reload (SIGHUP)`, 13.9],
      ['warn', `the certificate served expires in 3 days (${iso}): renew it and reload (SIGHUP)`, 3.5],
      ['warn', `the certificate served expires in 1 day (${iso}): renew it and reload (SIGHUP)`, 1],
      ['warn', `the certificate served expires in less than a day (${iso}): renew it and reload (SIGHUP)`, 0],
      ['warn', `the certificate served expires in less than a day (${iso}): renew it and reload (SIGHUP)`, 0],
    ]);
    expect(log.entries[0]?.fields).toMatchObject({ file: '/etc/fullchain.pem', notAfter: iso });
  });

  it('logs an error once it has expired, and keeps the expiry for the gauge', () => {
    const { expiry, log, at } = servingA();
    at(notAfterA + 1_000);
    expiry.check();
    at(notAfterA + 2 * DAY);
    expiry.check();
    const iso = new Date(notAfterA).toISOString();
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([
      ['error', `the certificate served expired on ${iso}; still serving it`],
      ['error', `the certificate served expired on ${iso}; still serving it`],
    ]);
    expect(log.entries[1]?.fields).toMatchObject({ notAfter: iso, daysLeft: -2 });
    expect(expiry.notAfter).toBe(notAfterA);
  });

  it('logs an error while the certificate served is not valid yet', () => {
    const { expiry, log, at } = servingA();
    const notBeforeA = Date.parse(new X509Certificate(certA.cert).validFrom);
    at(notBeforeA - 1_000);
    expiry.check();
    const iso = new Date(notBeforeA).toISOString();
    expect(log.entries.map((e) => [e.level, e.msg, e.fields.notBefore])).toEqual([
      ['error', `the certificate served is not valid before ${iso}; still serving it`, iso],
    ]);
    at(notBeforeA);
    expiry.check();
    expect(log.entries).toHaveLength(1);
  });

  it('follows the certificate served: one far from its end ends the warnings', () => {
    const { expiry, log, at } = servingA();
    const notAfterB = Date.parse(new X509Certificate(certB.cert).validTo);
    at(Math.max(notAfterA, notAfterB) - DAY);
    expiry.check();
    expect(log.entries).toHaveLength(1);
    // B ends two days before A: 20 days before B's end, serving B says nothing.
    at(notAfterB - 20 * DAY);
    expiry.serve(certB.cert);
    expiry.check();
    expect(expiry.notAfter).toBe(notAfterB);
    expect(log.entries).toHaveLength(1);
  });

  it('warns of a certificate after the leaf that has expired, is not valid yet, or soon expires', () => {
    // Only the leaf was read: an expired intermediate in the chain file went without a word at
    // start and after a reload, while verifying clients refused the handshake.
    const log = captureLogger();
    let now = notAfterA - 300 * DAY;
    const expiry = new CertificateExpiry(['tls'], '/etc/fullchain.pem', log, () => now);
    expiry.serve(Buffer.concat([certA.cert, certExpired.cert, certB.cert]));
    expiry.check();
    const tail = 'clients that verify through it refuse the handshake; renew the chain and reload (SIGHUP)';
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([
      [
        'warn',
        `in the chain served, certificate 2 (CN=localhost) expired on 2020-04-01T00:00:00.000Z: ${tail}`,
      ],
    ]);
    expect(log.entries[0]?.fields).toMatchObject({
      file: '/etc/fullchain.pem',
      certificate: 2,
      subject: 'CN=localhost',
    });
    // B (the third) within 14 days of its end; A, the leaf, ends two days before it.
    const notAfterB = Date.parse(new X509Certificate(certB.cert).validTo);
    log.clear();
    now = notAfterB - 3 * DAY;
    expiry.check();
    const isoB = new Date(notAfterB).toISOString();
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([
      ['warn', expect.stringMatching(/^in the chain served, certificate 2 .* expired on /)],
      ['warn', `in the chain served, certificate 3 (CN=localhost) expires in 3 days (${isoB}): ${tail}`],
      ['warn', expect.stringMatching(/^the certificate served expires in 1 day /)],
    ]);
    // One not valid yet (B before its notBefore), with the leaf valid.
    const notBeforeB = Date.parse(new X509Certificate(certB.cert).validFrom);
    log.clear();
    now = notBeforeB - 1_000;
    expiry.serve(Buffer.concat([certA.cert, certB.cert]));
    expiry.check();
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([
      [
        'warn',
        `in the chain served, certificate 2 (CN=localhost) is not valid before ${new Date(notBeforeB).toISOString()}: ${tail}`,
      ],
    ]);
    // A chain whose certificates after the leaf are all valid: no word, as before.
    log.clear();
    now = notAfterA - 300 * DAY;
    expiry.serve(Buffer.concat([certA.cert, certB.cert]));
    expiry.check();
    expect(log.entries).toEqual([]);
  });

  it('drops an expiry it cannot read, saying so, rather than keep the last one', () => {
    const { expiry, log } = servingA();
    expiry.serve(Buffer.from('not a certificate'));
    expect(expiry.notAfter).toBe(null);
    expect(log.find('cannot read the expiry of the certificate served')[0]).toMatchObject({
      level: 'error',
      // The fields of every failure line (errorFields): OpenSSL's code, not only its message.
      fields: { file: '/etc/fullchain.pem', code: expect.stringMatching(/^ERR_/) },
    });
    expiry.check();
    expect(log.entries).toHaveLength(1);
  });
});
