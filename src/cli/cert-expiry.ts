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

/** `in 3 days`, `in 1 day`, `in less than a day`: what is `left` (ms) of a certificate. */
function within(left: number): string {
  const days = Math.floor(left / DAY);
  return days === 0 ? 'in less than a day' : `in ${days} day${days === 1 ? '' : 's'}`;
}

/** A certificate after the leaf in a PEM chain: its place (2 for the first after the leaf). */
interface ChainCertificate {
  position: number;
  /** Its subject on one line (`CN=R3, O=Let's Encrypt`), to tell which one. */
  subject: string;
  notBefore: number;
  notAfter: number;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates after the leaf in `chain` (the intermediates a listener sends with it). The
 * checks here read the leaf only, so an intermediate that had expired in the chain file went
 * unnoticed at start, reload and --check-config while verifying clients refused the handshake.
 */
function chainAfterLeaf(chain: Uint8Array): ChainCertificate[] {
  const blocks = Buffer.from(chain).toString('latin1').match(PEM_CERTIFICATE) ?? [];
  return blocks.slice(1).map((pem, i) => {
    const cert = new X509Certificate(pem);
    return {
      position: i + 2,
      subject: cert.subject.split('\n').join(', '),
      notBefore: instant(cert, 'validFromDate', cert.validFrom),
      notAfter: instant(cert, 'validToDate', cert.validTo),
    };
  });
}

/** A certificate of the chain after the leaf, as the log lines name it. */
function named(c: ChainCertificate): string {
  return `certificate ${c.position} (${c.subject})`;
}

/**
 * Why verifying clients may refuse the certificates after the leaf of `chain` at `now`, one
 * sentence each (`certificate 2 (CN=R3) expired on ...`); empty when all are valid.
 * A warning, not a refusal as for the leaf: a client may build another path around it (an
 * expired cross-signed intermediate that clients with the newer root skip).
 */
export function chainOutOfValidity(chain: Uint8Array, now: number): string[] {
  const out: string[] = [];
  for (const c of chainAfterLeaf(chain)) {
    if (now > c.notAfter) out.push(`${named(c)} expired on ${new Date(c.notAfter).toISOString()}`);
    else if (now < c.notBefore)
      out.push(`${named(c)} is not valid before ${new Date(c.notBefore).toISOString()}`);
  }
  return out;
}

/** The certificate the secure listeners serve, and what is said of its expiry. */
export class CertificateExpiry {
  /** The served leaf's notAfter in ms since the epoch; null when it could not be read. */
  notAfter: number | null = null;

  /** The served leaf's notBefore, as notAfter. */
  private notBefore: number | null = null;

  /** The certificates served after the leaf; empty when there are none or they were unreadable. */
  private chain: ChainCertificate[] = [];

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
      this.chain = chainAfterLeaf(chain);
    } catch {
      // TLS took the chain, so this is unlikely; the leaf is said of as before.
      this.chain = [];
    }
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
    const now = this.now();
    this.checkChain(now);
    if (this.notAfter === null) return;
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
      this.logger.warn(
        fields,
        `the certificate served expires ${within(left)} (${fields.notAfter}): renew it and reload (SIGHUP)`,
      );
    }
  }

  /**
   * The certificates served after the leaf, on the leaf's terms (expired, not valid yet, or within
   * EXPIRY_WARNING of their end), each a warning: a client that verifies through one refuses the
   * handshake, though one may build another path around it (chainOutOfValidity).
   */
  private checkChain(now: number): void {
    for (const c of this.chain) {
      const fields = {
        file: this.file,
        certificate: c.position,
        subject: c.subject,
        notBefore: new Date(c.notBefore).toISOString(),
        notAfter: new Date(c.notAfter).toISOString(),
      };
      const left = c.notAfter - now;
      let what: string;
      if (left < 0) what = `expired on ${fields.notAfter}`;
      else if (now < c.notBefore) what = `is not valid before ${fields.notBefore}`;
      else if (left < EXPIRY_WARNING) what = `expires ${within(left)} (${fields.notAfter})`;
      else continue;
      this.logger.warn(
        fields,
        `in the chain served, ${named(c)} ${what}: clients that verify through it refuse the handshake; renew the chain and reload (SIGHUP)`,
      );
    }
  }
}
