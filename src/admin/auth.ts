import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../errors.js';
import { HttpError, queryParam } from './http.js';

/**
 * Who may call the admin API. With a token: `Authorization: Bearer <token>`, compared in constant
 * time (both sides hashed first, so neither the length nor a prefix leaks through timing). The
 * event stream also takes `?access_token=` because EventSource cannot send headers.
 *
 * Without a token the server only listens on loopback (config.ts refuses anything else), where it
 * only answers requests whose Host is a loopback name or an allowed one (hosts.ts): a web page the
 * operator visits could otherwise rebind its own DNS name to 127.0.0.1 and drive the API from the
 * browser. Nor does it answer what a browser sends to 127.0.0.1 for a page of another origin
 * (checkSite), but the page itself.
 */
export class Auth {
  private digest: Buffer | null;

  constructor(token: string | undefined) {
    this.digest = token === undefined ? null : sha256(token);
  }

  /**
   * Takes `token` in place of the one given at start, for requests from now on (a rotated
   * secret). Only a server started with a token has one to replace: one without it listens on
   * loopback only and answers loopback Host names only, and a token arriving later would change that.
   * Whether the token changed (a reload that found the same file changes nothing).
   */
  replace(token: string): boolean {
    if (this.digest === null) throw new ConfigError('the admin server was started without a token');
    const digest = sha256(token);
    const changed = !timingSafeEqual(digest, this.digest);
    this.digest = digest;
    return changed;
  }

  get required(): boolean {
    return this.digest !== null;
  }

  /**
   * Throws 401 unless the request carries the token; `query` allows `?access_token=`. Without a
   * token configured, throws 403 for a request a browser sent on behalf of another site instead.
   */
  check(req: IncomingMessage, url: URL, query: boolean): void {
    if (this.digest === null) {
      checkSite(req);
      return;
    }
    const given = bearerOf(req) ?? (query ? queryParam(url, 'access_token') : null);
    if (given === null) throw new HttpError(401, 'unauthorized', 'a bearer token is required');
    if (!timingSafeEqual(sha256(given), this.digest)) {
      throw new HttpError(401, 'unauthorized', 'the bearer token is not valid');
    }
  }
}

/**
 * Without a token, refuses what a browser sends for a page of another origin: `Sec-Fetch-Site`
 * other than `same-origin` or `none` (typed, a bookmark), or, from a browser that sends no
 * `Sec-Fetch-Site`, an `Origin` that is not this server as the Host names it. (The browser's own
 * verdict comes first: behind a reverse proxy that sends the upstream's Host, the dashboard's
 * kick carries the proxy's Origin.) Such a page cannot read the answers (no CORS), but its
 * requests go to 127.0.0.1 with a loopback Host, past the Host check: a page the operator visited held
 * every event stream (iframes, EventSource, no-cors fetch) and the dashboard was answered 503.
 * Only for the routes a token would protect: a link from elsewhere to the page or /healthz works.
 */
function checkSite(req: IncomingMessage): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw new HttpError(403, 'forbidden', `a request from another site (${site}); configure a token`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, req.headers.host)) {
    throw new HttpError(403, 'forbidden', 'a request from another origin; configure a token');
  }
}

/** Whether `origin` (an Origin header) is `http://` and the Host `host`; `null` never is. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const o = new URL(origin);
    return o.protocol === 'http:' && o.origin === new URL(`http://${host}`).origin;
  } catch {
    return false;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function bearerOf(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m === null ? null : m[1];
}
