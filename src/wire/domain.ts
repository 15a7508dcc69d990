import { goToLower, goTrimSpace } from './unicase.js';
import { utf8Length } from './utf8.js';

/**
 * Domain normalisation and validation exactly as a Go switcher does it (PROTOCOL.md 2.8): Go's
 * strings.ToLower, then strings.TrimSpace, then the checks. Applied at admission and to every
 * domain a switcher looks up for a dial or a ping. The case and space rules are Go's, not
 * JavaScript's (see unicase.ts).
 */

export const MAX_DOMAIN_BYTES = 63;

function isDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

/**
 * The normalised form of a domain, or null where a Go switcher answers "invalid domain". Order as
 * in Go: lower-case, trim, then 1..63 bytes (counted after lower-casing, so 63 KELVIN SIGNs pass),
 * not local/localhost, no leading or trailing '-'/'_', only [a-z0-9_-].
 */
export function normalizeDomain(input: string): string | null {
  const d = goTrimSpace(goToLower(input));
  const bytes = utf8Length(d);
  if (bytes === 0 || bytes > MAX_DOMAIN_BYTES) return null;
  if (d === 'local' || d === 'localhost') return null;
  const first = d.charCodeAt(0);
  const last = d.charCodeAt(d.length - 1);
  if (first === 0x2d || first === 0x5f || last === 0x2d || last === 0x5f) return null;
  for (let i = 0; i < d.length; i++) {
    if (!isDomainChar(d.charCodeAt(i))) return null;
  }
  return d;
}

/** True when two domains name the same registration (equal after normalisation, both valid). */
export function sameDomain(a: string, b: string): boolean {
  const na = normalizeDomain(a);
  return na !== null && na === normalizeDomain(b);
}
