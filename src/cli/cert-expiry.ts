import { X509Certificate } from 'node:crypto';
import { errorFields } from '../util/cause.js';
import type { Logger } from '../util/logger.js';

/**
 * When the certificate of the switcher's TLS and secure WebSocket listeners expires, for its
 * admin server's `flexmux_tls_certificate_expiry_timestamp_seconds` and for a log line at start
 * and after each reload once it is close. A renewal that silently stopped (a certbot timer gone,
 * a deploy hook that never sent SIGHUP) otherwise shows only when clients start refusing the
 * handshake.
 */

const DAY = 86_400_000;

/** A served certificate this close to its end is warned about: two weeks, Let's Encrypt's margin. */
export const EXPIRY_WARNING = 14 * DAY;

/** An instant of a certificate's: `validToDate` (or `validFromDate`), else `text`, its OpenSSL text. */
function instant(cert: X509Certificate, date: 'validFromDate' | 'validToDate', text: string): number {
  // Node 22.10 and later give the instant itself; Node 20 only OpenSSL's text of it, such as
  // `Nov  3 02:05:00 2126 GMT` (space-padded day, four-digit year whether the certificate holds
  // a UTCTime or, past 2049, a GeneralizedTime), which V8's Date.parse reads (the tests pin it).
  const d = (cert as { validFromDate?: unknown; validToDate?: unknown })[date];
  const t = d instanceof Date ? d.getTime() : Date.parse(text);
  if (!Number.isFinite(t))
    throw new Error(`unreadable ${date === 'validToDate' ? 'notAfter' : 'notBefore'}: ${text}`);
  return t;
}

/**
 * The notAfter of the leaf, the first certificate of a PEM chain (the one the listeners present
 * as theirs; the intermediates after it may well outlive it), in milliseconds since the epoch.
 */
export function leafNotAfter(chain: Uint8Array): number {
  // X509Certificate reads the first PEM block of what it is given.
  const cert = new X509Certificate(chain);
  return instant(cert, 'validToDate', cert.validTo);
}

/** The leaf's notBefore, as leafNotAfter. */
export function leafNotBefore(chain: Uint8Array): number {
  const cert = new X509Certificate(chain);
  return instant(cert, 'validFromDate', cert.validFrom);
}

/**
 * Why a verifying client refuses the leaf of `chain` at `now` (ms since the epoch): `expired on
 * ...` or `is not valid before ...` (dated ahead, or a clock behind); undefined within its validity.
 */
export function outOfValidity(chain: Uint8Array, now: number): string | undefined {
  const cert = new X509Certificate(chain);
  const notAfter = instant(cert, 'validToDate', cert.validTo);
  if (now > notAfter) return `expired on ${new Date(notAfter).toISOString()}`;
  const notBefore = instant(cert, 'validFromDate', cert.validFrom);
  if (now < notBefore) return `is not valid before ${new Date(notBefore).toISOString()}`;
  return undefined;
}

/** The certificate the secure listeners serve, and what is said of its expiry. */
export class CertificateExpiry {
  /** The served leaf's notAfter in ms since the epoch; null when it could not be read. */
  notAfter: number | null = null;

  /** The served leaf's notBefore, as notAfter. */
  private notBefore: number | null = null;

  /**
   * @param kinds the kinds of secure listener that serve it (`tls`, `wss`): the gauge's label.
   * @param file the certificate file, named in the log lines.
   * @param now the clock (tests inject one).
   */
  constructor(
    readonly kinds: readonly string[],
    private readonly file: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** `chain` is what the listeners serve from now on. */
  serve(chain: Uint8Array): void {
    try {
      this.notAfter = leafNotAfter(chain);
      this.notBefore = leafNotBefore(chain);
    } catch (err) {
      // TLS took the chain, so this is unlikely; the gauge goes rather than show the old expiry.
      this.notAfter = null;
      this.notBefore = null;
      this.logger.error(
        { file: this.file, ...errorFields(err) },
        'cannot read the expiry of the certificate served',
      );
    }
  }

  /**
   * Warns when the served certificate expires within EXPIRY_WARNING, and logs an error once it
   * has expired: it is served still (a client may not check, and the operator may have a reason),
   * but new handshakes with verifying clients fail. So does one not valid yet (dated ahead of
   * this clock, or this clock behind): an error line too, where it was served without a word.
   */
  check(): void {
    if (this.notAfter === null) return;
    const now = this.now();
    if (this.notBefore !== null && now < this.notBefore) {
      const notBefore = new Date(this.notBefore).toISOString();
      this.logger.error(
        { file: this.file, notBefore },
        `the certificate served is not valid before ${notBefore}; still serving it`,
      );
      return;
    }
    const left = this.notAfter - now;
    const fields = {
      file: this.file,
      notAfter: new Date(this.notAfter).toISOString(),
      daysLeft: Math.floor((left / DAY) * 10) / 10,
    };
    if (left < 0) {
      this.logger.error(fields, `the certificate served expired on ${fields.notAfter}; still serving it`);
    } else if (left < EXPIRY_WARNING) {
      const days = Math.floor(left / DAY);
      const inTime = days === 0 ? 'in less than a day' : `in ${days} day${days === 1 ? '' : 's'}`;
      this.logger.warn(
        fields,
        `the certificate served expires ${inTime} (${fields.notAfter}): renew it and reload (SIGHUP)`,
      );
    }
  }
}
