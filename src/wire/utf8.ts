/**
 * UTF-8 helpers shared by the payload codecs. Domains, error texts and reset messages are short
 * and almost always ASCII, so both directions take a plain loop for short ASCII input and fall
 * back to TextEncoder/TextDecoder otherwise (those exist in Node 20 and every browser).
 */

const encoder = new TextEncoder();
/** Non-fatal: invalid sequences become U+FFFD, as Go does when it turns bytes into text. */
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Below this length a manual loop beats the TextDecoder call overhead. */
const SHORT = 64;

/** Decodes UTF-8 bytes to a string; never throws. */
export function decodeUtf8(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n === 0) return '';
  if (n <= SHORT) {
    let s = '';
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b >= 0x80) return decoder.decode(bytes);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decoder.decode(bytes);
}

/** Encodes a string as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder does). */
export function encodeUtf8(s: string): Uint8Array {
  const n = s.length;
  if (n <= SHORT) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return encoder.encode(s);
      out[i] = c;
    }
    return out;
  }
  return encoder.encode(s);
}

/**
 * Writes `s` as UTF-8 into `out` and returns the byte count. When `out` is too small the text
 * is cut at a code point boundary, never inside a multi-byte sequence.
 */
export function encodeUtf8Into(s: string, out: Uint8Array): number {
  return encoder.encodeInto(s, out).written;
}

/** The UTF-8 length of `s` in bytes, without encoding it. */
export function utf8Length(s: string): number {
  let len = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) len += 1;
    else if (c < 0x800) len += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        len += 4;
        i++;
      } else {
        len += 3; // lone high surrogate: encoded as U+FFFD
      }
    } else len += 3;
  }
  return len;
}

/** Characters of peer-supplied text that messages and logs show (a valid domain has at most 63). */
const SHOWN_CHARS = 80;

/**
 * Peer-supplied text (a domain, a Mac) cut short for an error message, a log line or an event:
 * an admission request or an OpenStream may carry 64 KiB of it, which would otherwise be copied
 * into every line logged about it. At most 80 characters, then "…" and the full length; never
 * half a surrogate pair.
 */
export function clipText(text: string): string {
  if (text.length <= SHOWN_CHARS) return text;
  let end = SHOWN_CHARS;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}
