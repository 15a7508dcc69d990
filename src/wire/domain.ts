import { isGoSpace } from './unicase.js';

/**
 * Domain normalisation and validation exactly as a Go switcher does it (PROTOCOL.md 2.8): Go's
 * strings.ToLower, then strings.TrimSpace, then the checks. Applied at admission and to every
 * domain a switcher looks up for a dial or a ping, i.e. to peer-supplied text of up to 64 KiB.
 *
 * Rather than lower-casing everything (slow, and JavaScript's toLowerCase is not Go's, see
 * unicase.ts), this uses two facts checked over every code point in test/unit/wire/domain.test.ts:
 * Go's lower-casing maps white space to itself and nothing else to white space, so trimming can
 * come first; and the only code points that lower into [a-z0-9_-] are those characters, A-Z,
 * U+0130 (to i) and U+212A KELVIN SIGN (to k). Anything else makes the domain invalid, so the scan
 * stops at the first such character or once the result passes 63 bytes.
 */

export const MAX_DOMAIN_BYTES = 63;

/** The lower-cased ASCII character a code unit stands for in a valid domain, or -1. */
function domainChar(c: number): number {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) return c;
  if (c >= 0x41 && c <= 0x5a) return c + 0x20;
  if (c === 0x130) return 0x69; // İ: Go's simple mapping gives plain i
  if (c === 0x212a) return 0x6b; // KELVIN SIGN
  return -1;
}

/**
 * The normalised form of a domain, or null where a Go switcher answers "invalid domain". Same
 * verdict as Go's order: lower-case, trim, then 1..63 bytes (counted after lower-casing, so 63
 * KELVIN SIGNs pass), not local/localhost, no leading or trailing '-'/'_', only [a-z0-9_-]. Null
 * for anything that is not a string.
 */
export function normalizeDomain(input: string): string | null {
  // No string is no domain (JavaScript callers: kick(5), client(5) threw a RangeError).
  if (typeof input !== 'string') return null;
  let start = 0;
  let end = input.length;
  // Every White_Space code point is in the BMP, so UTF-16 units suffice.
  while (start < end && isGoSpace(input.charCodeAt(start))) start++;
  while (end > start && isGoSpace(input.charCodeAt(end - 1))) end--;
  const n = end - start;
  if (n === 0 || n > MAX_DOMAIN_BYTES) return null; // each valid unit becomes exactly one byte
  const codes = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const c = domainChar(input.charCodeAt(start + i));
    if (c < 0) return null;
    codes[i] = c;
  }
  const first = codes[0];
  const last = codes[n - 1];
  if (first === 0x2d || first === 0x5f || last === 0x2d || last === 0x5f) return null;
  const d = String.fromCharCode(...codes);
  return d === 'local' || d === 'localhost' ? null : d;
}

/** True when two domains name the same registration (equal after normalisation, both valid). */
export function sameDomain(a: string, b: string): boolean {
  const na = normalizeDomain(a);
  return na !== null && na === normalizeDomain(b);
}
