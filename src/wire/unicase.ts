/**
 * Go's per-code-point Unicode case mapping and white space, which domain normalisation
 * (PROTOCOL.md 2.8) and JSON member matching (2.3) depend on. JavaScript's toLowerCase(),
 * toUpperCase() and trim() differ from Go in ways that change verdicts (vectors/domains.json),
 * so the Go behaviour is rebuilt here per code point.
 *
 * Go maps with the *simple* (one-to-one) Unicode case tables. JavaScript only offers the *full*
 * mapping, which equals the simple one whenever it yields a single code point. Where the full
 * mapping yields several, the simple one is kept as the letter itself, except for U+0130, the
 * only such letter with a simple lower case ("i", so Go accepts "İx" as "ix"). Upper-case letters
 * with multi-letter full mappings and a simple mapping (Greek iota-subscript forms) are non-ASCII
 * both ways, so the approximation cannot change an ASCII comparison. Tables may also differ by a
 * Unicode version between Go 1.23 and the JS engine, again only for non-ASCII results.
 */

function single(s: string, cp: number): number {
  const first = s.codePointAt(0)!;
  return s.length === (first > 0xffff ? 2 : 1) ? first : cp;
}

/** Go's unicode.ToLower. */
export function goLowerCodePoint(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
  if (cp === 0x130) return 0x69;
  if (cp >= 0xd800 && cp <= 0xdfff) return cp; // lone surrogate: no mapping
  return single(String.fromCodePoint(cp).toLowerCase(), cp);
}

/** Go's unicode.ToUpper (see the module note for the one approximation). */
export function goUpperCodePoint(cp: number): number {
  if (cp < 0x80) return cp >= 0x61 && cp <= 0x7a ? cp - 0x20 : cp;
  if (cp >= 0xd800 && cp <= 0xdfff) return cp;
  return single(String.fromCodePoint(cp).toUpperCase(), cp);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Go's strings.ToLower. */
export function goToLower(s: string): string {
  if (isAscii(s)) return s.toLowerCase(); // identical to Go for ASCII
  let out = '';
  for (const ch of s) out += String.fromCodePoint(goLowerCodePoint(ch.codePointAt(0)!));
  return out;
}

/**
 * Go's unicode.IsSpace: the Unicode White_Space property. Unlike JavaScript's trim() it includes
 * U+0085 (NEXT LINE) and excludes U+FEFF (BOM), which is not white space in Unicode.
 */
export function isGoSpace(cp: number): boolean {
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  return (
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Go's strings.TrimSpace. Every White_Space code point is in the BMP, so UTF-16 units suffice. */
export function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * The key Go's encoding/json matches member names by when there is no exact match: ASCII
 * upper-cased, anything else mapped through ToUpper(ToLower(r)). So "sum", "SUM" and even
 * "ſum" (U+017F) all select the field Sum.
 */
export function goFoldName(name: string): string {
  if (isAscii(name)) return name.toUpperCase();
  let out = '';
  for (const ch of name) out += String.fromCodePoint(goUpperCodePoint(goLowerCodePoint(ch.codePointAt(0)!)));
  return out;
}
