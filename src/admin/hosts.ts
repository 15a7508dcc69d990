import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from '../util/logger.js';
import { now } from '../util/timers.js';
import { isLoopback } from './config.js';
import { HttpError } from './http.js';

/**
 * Which `Host` headers the admin server answers: its guard against DNS rebinding. A page on a
 * name its owner controls can point that name at 127.0.0.1 once loaded; the browser then sends
 * the page's requests to the admin port as same-origin, with the page's name as `Host`, and the
 * page reads the answers. Only the Host header tells such a request apart.
 *
 * A server on loopback answers loopback names and addresses (`localhost`, 127.0.0.0/8, `::1`)
 * and the names in `allowedHosts`, token or not: with a token the page cannot read the API, but
 * it could still read the public endpoints and guess tokens from the operator's browser at a
 * port nobody else reaches. A server on another address takes any Host unless `allowedHosts` is
 * given (operators reach it by names and addresses the server cannot know); with it, loopback
 * names, the address it is bound to and the names listed. The port in a Host is not compared.
 */
export class HostGuard {
  private readonly allowed: ReadonlySet<string> | null;
  /** Requests refused since the last warn line. */
  private unlogged = 0;
  private logged = Number.NEGATIVE_INFINITY;

  /** `allowed`: names answered besides the loopback ones; null: any Host. */
  constructor(
    allowed: readonly string[] | null,
    private readonly logger: Logger,
    private readonly clock: () => number = now,
  ) {
    this.allowed = allowed === null ? null : new Set(allowed.map(hostName));
  }

  /** Throws 403 for a request whose Host this server does not answer to; logs it (at most every 10 s). */
  check(req: IncomingMessage): void {
    const host = req.headers.host;
    // HTTP/1.0 without a Host: no browser sends that, so no rebinding page either.
    if (this.allowed === null || host === undefined) return;
    const name = hostName(host);
    if (isLoopback(name) || this.allowed.has(name)) return;
    this.unlogged++;
    const t = this.clock();
    // Whoever reaches the port, a page in the operator's browser included, may send as many.
    if (t - this.logged >= LOG_EVERY) {
      this.logger.warn(
        { host: host.slice(0, 200), remote: req.socket?.remoteAddress, refused: this.unlogged },
        'admin request refused: its Host is not a name of this server',
      );
      this.logged = t;
      this.unlogged = 0;
    }
    throw new HttpError(
      403,
      'forbidden',
      `Host "${host}" is not a name of this admin server; list it in allowedHosts (--admin-allowed-host) if it is`,
    );
  }
}

/** ms between two warn lines about refused Host headers. */
export const LOG_EVERY = 10_000;

/**
 * A Host header or an allowed name as compared: lower case, without its port, an IPv6 address
 * without brackets, a DNS name without the dot that may end it.
 */
export function hostName(host: string): string {
  const h = host.toLowerCase();
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (v6 !== null) return v6[1];
  if (isIP(h) === 6) return h;
  return h.replace(/:\d*$/, '').replace(/\.$/, '');
}
