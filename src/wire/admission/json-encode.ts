import { ConfigError } from '../../errors.js';

/**
 * Writes JSON the way Go's encoding/json.Marshal does, byte for byte, so a sealed admission
 * plaintext equals Go's (and the vectors' ciphertext): members in the given order, no spaces,
 * and Go's string escaping (Go 1.22+):
 *   " and \ -> \" \\;  \b \f \n \r \t -> short escapes;  other controls -> \u00XX (lower-case hex);
 *   < > & -> \u003c \u003e \u0026 (HTML-safe);  U+2028 U+2029 -> \u2028 \u2029;
 *   invalid UTF-16 (a lone surrogate, which Go would see as invalid UTF-8) -> \ufffd.
 */

export type JsonScalar = string | number | bigint;

const HEX = '0123456789abcdef';

const SHORT: Record<number, string> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
  60: '\\u003c',
  62: '\\u003e',
  38: '\\u0026',
  8232: '\\u2028',
  8233: '\\u2029',
};

function needsEscape(c: number): boolean {
  return (
    c < 0x20 ||
    c === 0x22 ||
    c === 0x5c ||
    c === 0x3c ||
    c === 0x3e ||
    c === 0x26 ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

/** A JSON string literal exactly as Go writes it. */
export function goQuote(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!needsEscape(c)) continue;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a valid pair is written as is
        continue;
      }
    }
    out += s.slice(run, i);
    if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += SHORT[c] ?? `\\u00${HEX[c >> 4]}${HEX[c & 0xf]}`;
    run = i + 1;
  }
  return out + s.slice(run) + '"';
}

function scalar(v: JsonScalar): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isSafeInteger(v)) throw new ConfigError(`JSON integer expected, got ${String(v)}`);
  return String(v);
}

/** An object of scalar members, in the order given, as Go's Marshal writes a struct. */
export function goObject(members: ReadonlyArray<readonly [string, JsonScalar]>): string {
  let out = '{';
  for (let i = 0; i < members.length; i++) {
    if (i > 0) out += ',';
    out += `${goQuote(members[i][0])}:${scalar(members[i][1])}`;
  }
  return out + '}';
}
