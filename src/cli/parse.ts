import { isIPv6 } from 'node:net';
import { InvalidArgumentError } from 'commander';
import { parseAddress } from '../node/address.js';
import { normalizeDomain } from '../wire/domain.js';

/**
 * Parsers for flag values. Each takes the raw text (from argv, an environment variable or the
 * config file) and returns a typed value or throws InvalidArgumentError, which commander turns
 * into "option '--x <v>' argument 'y' is invalid. <why>" and the CLI into exit code 2.
 */

export interface HostPort {
  host: string;
  port: number;
}

/** A listener address with an HTTP path (WebSocket listeners). */
export interface HostPortPath extends HostPort {
  path: string;
}

/** `--expose PORT=HOST:PORT`: a virtual port served by a local TCP service. */
export interface Expose {
  port: number;
  target: HostPort;
}

/** `--forward LOCALPORT=DOMAIN:PORT`: a local TCP port whose connections are dialled to a node. */
export interface Forward {
  localPort: number;
  domain: string;
  port: number;
}

function fail(message: string): never {
  throw new InvalidArgumentError(message);
}

/**
 * A port: decimal digits, nothing around them, no leading zero. `080` was taken as 80, where C's
 * strtol (base 0), YAML 1.1 and the resolver's reading of `010.0.0.1` make a leading 0 octal; and
 * `h: 80` as `h:80`. Each is refused rather than guessed.
 */
export function parsePort(text: string, what = 'port'): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) fail(`${what} must be an integer in 0..65535`);
  if (text.length > 1 && text.startsWith('0'))
    fail(`${what} "${text}" has a leading zero: write ${Number(text)}`);
  return Number(text);
}

/** An IPv4 address as the resolver reads it: 1 to 4 parts, the last a number (WHATWG's test). */
const IPV4_LIKE = /(?:^|\.)(?:\d+|0x[\da-f]*)\.?$/i;

/** Decimal parts: 10.0.0.1, and the shorthands 127.1 and 0 (as the resolver reads them). */
const IPV4_DECIMAL = /^(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*)){0,3}$/;

/** A host name: dot-separated labels of letters, digits, - and _, an optional final dot. */
const HOST_NAME = /^[a-z\d_-]{1,63}(?:\.[a-z\d_-]{1,63})*\.?$/i;

/**
 * A host to listen on or connect to, without brackets: an IPv6 address, an IPv4 address, or a
 * name. Refused before a start rather than failing it (`--check-config` said OK): a name the
 * resolver cannot take (`a@b`, `[::1`, `1.2.3.4.5`), and an IPv4 address with a part in octal
 * or hex, which the resolver reads as such, so that `192.168.001.010` bound 192.168.1.8.
 */
export function parseHost(host: string): string {
  if (/[[\]]/.test(host)) fail(`invalid host "${host}": unbalanced brackets`);
  if (host.includes(':')) {
    if (!isIPv6(host)) fail(`invalid host "${host}": not an IPv6 address`);
    return host;
  }
  if (IPV4_LIKE.test(host)) {
    if (host.split('.').some((p) => /^0[\dx]/i.test(p))) {
      fail(
        `invalid host "${host}": write an IPv4 address in decimal (a part with a leading 0 is octal, with 0x hex)`,
      );
    }
    if (!IPV4_DECIMAL.test(host) || !ipv4InRange(host)) fail(`invalid host "${host}": not an IPv4 address`);
    return host;
  }
  if (host.length > 253 || !HOST_NAME.test(host)) {
    fail(`invalid host "${host}": a host name is labels of letters, digits, - and _ separated by dots`);
  }
  return host;
}

/** Whether the decimal parts of `host` fit 4 bytes as the resolver reads them (`127.1`: 127.0.0.1). */
function ipv4InRange(host: string): boolean {
  const parts = host.split('.').map(Number);
  const last = parts.pop() as number;
  return parts.every((p) => p <= 255) && last < 256 ** (4 - parts.length);
}

/**
 * `--bind HOST`: a host alone, an IPv6 address with or without its brackets. Taken as it was
 * given, `[::1]` (as addresses are written everywhere else) passed --check-config, shown as
 * `[[::1]]`, and failed the start: the resolver found no host named `[::1]`.
 */
export function parseBindHost(text: string): string {
  const t = text.trim();
  const host = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  if (host === '') fail('expected a host');
  return parseHost(host);
}

/** The host and port of a URL as written, before the URL parser reads them: `[1]`, `[2]`. */
const URL_AUTHORITY = /^[a-z][a-z\d+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]*)(?::([^/?#]*))?/i;

/**
 * Checks the host and port of a URL (`-s`) as those of HOST:PORT are. The URL parser reads an
 * IPv4 part with a leading 0 as octal (for ws:// and wss://; the resolver does for tcp:// and
 * tls://), so `tcp://010.0.0.5:7000` connected to 8.0.0.5, and a port `080` as 80. The rest of
 * the URL is connect()'s to check, which names what it expects. Not a flag parser: commander's
 * message would quote the URL, `user:password@` included.
 */
export function checkUrlHostPort(text: string): void {
  const m = URL_AUTHORITY.exec(text.trim());
  if (m === null) return;
  const host = /^\[.*\]$/.test(m[1]) ? m[1].slice(1, -1) : m[1];
  if (host !== '') parseHost(host);
  if (m[2] !== undefined && m[2] !== '') parsePort(m[2]);
}

/** `HOST:PORT`, `[v6]:PORT`, or `:PORT` (host defaults to `defaultHost`). */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): HostPort {
  const t = text.trim();
  const i = t.lastIndexOf(':');
  if (i < 0) fail('expected HOST:PORT');
  let host = t.slice(0, i);
  const bracketed = host.startsWith('[') && host.endsWith(']');
  if (bracketed) host = host.slice(1, -1);
  if (host === '') host = defaultHost;
  if (/[\s/]/.test(host)) fail(`invalid host "${host}"`);
  // `::1:80` is ::1 port 80, or the address ::1:80 with its port missing: Go refuses it too.
  if (!bracketed && host.includes(':') && !/[[\]]/.test(host))
    fail(`invalid host "${host}": an IPv6 address goes in brackets, [${host}]:PORT`);
  return { host: parseHost(host), port: parsePort(t.slice(i + 1)) };
}

/** `HOST:PORT[/path]`; the path defaults to `defaultPath`. */
export function parseHostPortPath(text: string, defaultPath: string): HostPortPath {
  const t = text.trim();
  const slash = t.indexOf('/');
  const address = slash < 0 ? t : t.slice(0, slash);
  const path = slash < 0 ? defaultPath : t.slice(slash);
  if (!/^\/[\x21-\x7e]*$/.test(path)) fail(`invalid path "${path}"`);
  // Refused here, not only by the listener at start: --check-config said 'configuration OK' to it.
  if (/[?#]/.test(path)) fail(`invalid path "${path}": a request's path has no ? or #`);
  return { ...parseHostPort(address), path };
}

export function parseExpose(text: string): Expose {
  const eq = text.indexOf('=');
  if (eq < 0) fail('expected PORT=HOST:PORT');
  const port = parsePort(text.slice(0, eq), 'virtual port');
  if (port === 0) fail('virtual port must be in 1..65535');
  return { port, target: parseHostPort(text.slice(eq + 1)) };
}

export function parseForward(text: string): Forward {
  const eq = text.indexOf('=');
  if (eq < 0) fail('expected LOCALPORT=DOMAIN:PORT');
  const localPort = parsePort(text.slice(0, eq), 'local port');
  const target = parseTarget(text.slice(eq + 1));
  return { localPort, ...target };
}

/** `DOMAIN:PORT` as dialled through a switcher (a virtual IP in place of the domain also works). */
export function parseTarget(text: string): { domain: string; port: number } {
  let t: ReturnType<typeof parseAddress>;
  try {
    t = parseAddress(text.trim());
  } catch (err) {
    const message = (err as Error).message;
    // The library's words are about any host:port; the user gave a target without its port.
    if (message.endsWith('is not host:port'))
      fail(
        `"${text}" is not DOMAIN:PORT: a node's domain (or virtual IP) and a virtual port, such as alice:22`,
      );
    fail(message);
  }
  if ('ip' in t) return { domain: String(t.ip), port: t.port };
  return { domain: parseDomain(t.domain), port: t.port };
}

/** A domain as a switcher accepts it (PROTOCOL.md 2.8): 1..63 of a-z 0-9 - _, not local(host). */
export function parseDomain(text: string): string {
  const d = normalizeDomain(text);
  if (d !== null) return d;
  // Made only of the allowed characters, yet refused: the character rule would send the user
  // looking for a bad character (or at the upper case) in `-d local`.
  const lower = text.trim().toLowerCase();
  if (lower === 'local' || lower === 'localhost') fail(`invalid domain "${text}": ${lower} is reserved`);
  fail(`invalid domain "${text}": use 1..63 of a-z 0-9 - _ (not at the ends)`);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in ms: `250ms`, `10s`, `1.5m`, `2h`, or a bare number of `bareUnit`s. */
export function parseDuration(text: string, bareUnit: 'ms' | 's' = 'ms'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (m === null) fail('expected a duration such as 500ms, 10s, 2m');
  const ms = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit]);
  if (ms > 2 ** 31 - 1) fail('duration too long');
  return ms;
}

/** A duration that bounds a wait: 0 would fail every attempt at once, so it is refused. */
export function parseTimeout(text: string, bareUnit: 'ms' | 's' = 'ms'): number {
  const ms = parseDuration(text, bareUnit);
  if (ms === 0) fail('a timeout must be longer than 0');
  return ms;
}

/** A back-off delay: 0 would retry in a tight loop, so it is refused. */
export function parseBackoff(text: string): number {
  const ms = parseDuration(text);
  if (ms === 0) fail('a back-off must be longer than 0');
  return ms;
}

/**
 * `ping -i`: more than 0. Elsewhere a duration of 0 means "never" or "off" (`--idle-timeout`,
 * `--ping-interval`), so `-i 0` read as "no pause" or as "no pinging" alike; taken, it pinged
 * back to back, a line per round trip as fast as the switcher answers, which ping(8) refuses to
 * a user too (`-i` below 2 ms). A short interval, `-i 10ms`, says which is meant.
 */
export function parsePingInterval(text: string): number {
  const ms = parseDuration(text, 's');
  if (ms === 0) fail('an interval must be longer than 0 (a bare number is seconds: -i 0.2 is 200ms)');
  return ms;
}

/** The time between two progress lines: shorter than 100 ms would flood the terminal. */
export function parseInterval(text: string): number {
  const ms = parseDuration(text);
  if (ms < 100) fail('expected an interval of at least 100ms');
  return ms;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A byte count: `65536`, `64k`, `8MiB`, `1G` (binary units). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (m === null) fail('expected a size such as 65536, 64k, 8MiB');
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

export function parseCount(text: string, min = 0, max?: number): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    fail(max === undefined ? `expected an integer >= ${min}` : `expected an integer in ${min}..${max}`);
  }
  return n;
}

/** parseSize, within `range` (bytes). */
export function parseSizeIn(text: string, [min, max]: readonly [number, number]): number {
  const n = parseSize(text);
  if (n < min || n > max) fail(`expected a size in ${min}..${max} bytes`);
  return n;
}

/**
 * A decimal number >= 0 (`2`, `0.5`). Number() alone also read `0x10` as 16, `1e3` as 1000 and
 * `0b1` as 1, forms no other flag takes, and `.5`, `5.` and `+5`.
 */
export function parseRate(text: string): number {
  const t = text.trim();
  if (!/^\d+(?:\.\d+)?$/.test(t)) fail('expected a decimal number >= 0, such as 2 or 0.5');
  return Number(t);
}

/**
 * Makes a parser for a repeatable flag: each use (and each comma-separated item, so one
 * environment variable can carry a list) is appended to what came before.
 */
export function collect<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  const collector = (text: string, previous: T[] | undefined): T[] => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (items.length === 0) fail('empty value');
    // One argument only: map() would pass the index as parse's second parameter (parseHostPort's
    // default host), so `--tcp :7000` bound every interface and `--tcp :1,:2` failed.
    return [...(previous ?? []), ...items.map((item) => parse(item))];
  };
  collectors.add(collector);
  return collector;
}

/** The parsers made by collect(): a config file may give their flags a list, even an empty one. */
const collectors = new WeakSet<object>();

/** True when `parse` is a repeatable flag's parser (made by collect()). */
export function isRepeatable(parse: unknown): boolean {
  return typeof parse === 'function' && collectors.has(parse);
}

/** `host:port` for printing, IPv6 bracketed. */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
