import type { Logger } from '../util/logger.js';
import type { HostPort } from './parse.js';

/**
 * The Fetch standard's bad ports (fetch.spec.whatwg.org, "port blocking"): browsers and Node's
 * fetch refuse to connect to them, whatever answers there. An HTTP server can listen on one, and
 * `--admin :6000` did, without a word: the dashboard could never be opened there, nor could
 * `flexmux clients` and `kick` (fetch) reach it, while curl and a Prometheus scrape could.
 */
const FETCH_BAD_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** Whether browsers and fetch refuse to connect to `port`. */
export function fetchRefusesPort(port: number): boolean {
  return FETCH_BAD_PORTS.has(port);
}

/**
 * Warns, at start and with --check-config, that a server browsers use is given a port they
 * refuse. A warning, not a refusal: what is not a browser (curl, a Prometheus scrape, a flexmux
 * node) still reaches it there. `what` names the server (`the admin API`); `lost` what cannot be
 * used there, and what to do.
 */
export function warnBrowserBlockedPort(at: HostPort, what: string, lost: string, logger: Logger): void {
  if (!fetchRefusesPort(at.port)) return;
  logger.warn(
    { port: at.port },
    `${what} on port ${at.port}: browsers and fetch refuse to connect to it (the Fetch standard's bad ports), so ${lost}`,
  );
}

/** What cannot be used on such a port: the admin API's dashboard and the commands that call it. */
export const ADMIN_LOST =
  'the dashboard cannot be opened there, nor can flexmux clients and kick reach it; serve it on another port';
/** What cannot be used on such a port: the demo page. */
export const DEMO_LOST = 'the demo page cannot be opened there; serve it on another port';
/** What cannot be used on such a port: a ws:// or wss:// listener, by browser nodes. */
export const WS_LOST =
  'browser nodes (docs/browser.md) cannot connect there, flexmux nodes can; give browsers another port';
