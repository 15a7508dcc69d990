import { isIPv4 } from 'node:net';
import { formatHostPort, type HostPort } from './parse.js';

/**
 * Whether two listener addresses on one port collide, told without DNS (`--check-config` binds
 * and resolves nothing). Compared as text, `--tcp 0.0.0.0:7000 --admin 127.0.0.1:7000` passed the
 * check and the start then failed with EADDRINUSE (exit 13). What Node's listen does on Linux:
 *
 * - `0.0.0.0` takes the port on every IPv4 address; `::` on every address of both families (Node
 *   listens dual-stack), so it collides with any listener on the port, a host name too.
 * - An address is compared in its canonical form: `127.1`, `::ffff:127.0.0.1` and `127.0.0.1`
 *   are one address, as are the spellings of one IPv6 address.
 * - `localhost` stands for both loopback addresses, 127.0.0.1 and ::1: which one it resolves to
 *   depends on the host, and either collides.
 * - Any other host name is compared by name, case and a final dot aside: where it resolves shows
 *   only at start.
 */
export function listenersOverlap(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  const as = bound(a.host);
  const bs = bound(b.host);
  return as.some((x) => bs.some((y) => covers(x, y) || covers(y, x)));
}

/** The bad-usage message for `a`, given to `first`, and `b`, given to `second`, which overlap. */
export function sharedAddress(a: HostPort, first: string, b: HostPort, second: string): string {
  const [x, y] = [formatHostPort(a), formatHostPort(b)];
  const given = x === y ? `${x} is given twice,` : `${x} and ${y} overlap, given`;
  return `${given} to ${first} and to ${second}: each needs an address of its own`;
}

/** What a host listens on: `*` every address, `*4` every IPv4 address, `4:` or `6:` one, `name:` a name. */
function bound(host: string): string[] {
  // A final dot makes a name absolute; the resolver finds the same address with it or without.
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost') return ['4:127.0.0.1', '6:[::1]'];
  if (h.includes(':')) {
    const v6 = canonical(`[${h}]`);
    if (v6 === undefined) return [`name:${h}`];
    if (v6 === '[::]') return ['*'];
    // An IPv4-mapped address binds that IPv4 address.
    const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(v6);
    if (mapped === null) return [`6:${v6}`];
    const hi = Number.parseInt(mapped[1], 16);
    const lo = Number.parseInt(mapped[2], 16);
    return [v4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`)];
  }
  // The URL parser reads IPv4 shorthands (`127.1`, `0`) as the system's resolver does.
  const name = canonical(h);
  if (name !== undefined && isIPv4(name)) return [v4(name)];
  return [`name:${name ?? h}`];
}

const v4 = (address: string): string => (address === '0.0.0.0' ? '*4' : `4:${address}`);

/** The host as a URL's parser writes it, or undefined if it is not a valid host. */
function canonical(host: string): string | undefined {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

/** Whether listening on `x` takes the port on `y` too. */
function covers(x: string, y: string): boolean {
  if (x === y || x === '*') return true;
  return x === '*4' && y.startsWith('4:');
}
