/**
 * Who the failed-admission limit counts an attempt against (guards.ts FailureLimiter). The same
 * client can show up under several addresses: a dual-stack listener reports an IPv4 peer as
 * `::ffff:1.2.3.4`, and one IPv6 subscriber usually holds a whole /64 (RFC 6177), so the limit
 * would be dodged by switching format or address. Keys fold both: an IPv6 address that embeds
 * an IPv4 one becomes that IPv4 address, any other IPv6 address its /64 prefix. Anything else
 * (IPv4, names, the memory transport's labels) is its own key.
 *
 * Embedding forms: IPv4-mapped (`::ffff:1.2.3.4`), IPv4-compatible (`::1.2.3.4`, deprecated but
 * still parsed), and the NAT64 well-known prefix (`64:ff9b::1.2.3.4`, RFC 6052), the address an
 * IPv6-only switcher behind a stateless translator (SIIT, RFC 7915) sees every IPv4 client under.
 * Their /64 is one for the whole IPv4 internet: one password guesser there spent the budget of
 * every IPv4 client, and the forms of one host dodged its own.
 */

/** The host part of a transport's remote address (`1.2.3.4:5` -> `1.2.3.4`, `[::1]:5` -> `::1`). */
export function hostOf(remoteAddress: string): string {
  const bracket = /^\[([^\]]*)\](?::\d+)?$/.exec(remoteAddress);
  if (bracket) return bracket[1];
  const colon = remoteAddress.lastIndexOf(':');
  if (colon > 0 && remoteAddress.indexOf(':') === colon && /^\d+$/.test(remoteAddress.slice(colon + 1))) {
    return remoteAddress.slice(0, colon);
  }
  return remoteAddress;
}

/** The rate-limit key of a remote address: `1.2.3.4`, `2001:db8:0:1::/64`, or the host as is. */
export function limitKey(remoteAddress: string): string {
  const host = hostOf(remoteAddress);
  const g = parseIPv6(host);
  if (g === null) return host;
  if (embedsIPv4(g)) return `${g[6] >> 8}.${g[6] & 0xff}.${g[7] >> 8}.${g[7] & 0xff}`;
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/** Whether the last 32 bits of `g` are an IPv4 host's address (see the forms above). */
function embedsIPv4(g: number[]): boolean {
  if (g[2] !== 0 || g[3] !== 0 || g[4] !== 0) return false;
  if (g[0] === 0x64 && g[1] === 0xff9b && g[5] === 0) return true;
  if (g[0] !== 0 || g[1] !== 0) return false;
  // IPv4-compatible, but not `::` or `::1` (nor any 0.x.x.x, which no host sends from).
  return g[5] === 0xffff || (g[5] === 0 && g[6] >> 8 !== 0);
}

const GROUP = /^[0-9a-f]{1,4}$/i;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The eight 16-bit groups of an IPv6 address (zone dropped, dotted IPv4 tail allowed), or null. */
export function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  const t = zone < 0 ? text : text.slice(0, zone);
  if (!t.includes(':')) return null;
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** The groups of one side of `::` (`''` is none); a dotted IPv4 address may end the `last` one. */
function groups(side: string, last: boolean): number[] | null {
  if (side === '') return [];
  const parts = side.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const v4 = last && i === parts.length - 1 ? IPV4.exec(p) : null;
    if (v4 !== null) {
      const b = v4.slice(1).map(Number);
      if (b.some((x) => x > 255)) return null;
      out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    } else if (GROUP.test(p)) {
      out.push(Number.parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}
