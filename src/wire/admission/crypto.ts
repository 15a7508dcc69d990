import { ConfigError } from '../../errors.js';
import { encodeUtf8 } from '../utf8.js';

/**
 * The few primitives admission needs, on Web Crypto (`globalThis.crypto`), which Node 20 and every
 * browser provide, so this folder stays free of node:* imports.
 */

/** A password as text (its UTF-8 bytes are the key, as in Go) or as raw bytes. */
export type Password = string | Uint8Array;

/** HMAC-SHA-256 block size: keys shorter than this are zero-padded to it (RFC 2104). */
const HMAC_BLOCK = 64;

// Typed through globalThis, not as the DOM library's SubtleCrypto: this signature is in the
// published .d.ts, and a Node.js project compiled without that library (skipLibCheck off) failed
// on the name. @types/node and the DOM library both declare globalThis.crypto.
export function subtle(): typeof globalThis.crypto.subtle {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) {
    // Browsers hide Web Crypto outside secure contexts; say so instead of a bare TypeError.
    throw new ConfigError(
      'Web Crypto (crypto.subtle) is unavailable: browsers provide it only in secure contexts (https, localhost)',
    );
  }
  return s;
}

/**
 * Bytes on a plain ArrayBuffer, which Web Crypto's typings want, spelt without Uint8Array's type
 * parameter: this is in the published .d.ts, and TypeScript before 5.7 (whose Uint8Array takes
 * none) reports one as an error in a consumer's build.
 */
export type OwnedBytes = Uint8Array & { readonly buffer: ArrayBuffer };

/**
 * Web Crypto's typings want views on a plain ArrayBuffer (not a SharedArrayBuffer); browsers
 * reject shared memory at run time too, so such input is copied once.
 */
export function own(bytes: Uint8Array): OwnedBytes {
  if (bytes.buffer instanceof ArrayBuffer) return bytes as OwnedBytes;
  return new Uint8Array(bytes);
}

export function passwordBytes(password: Password): Uint8Array {
  return typeof password === 'string' ? encodeUtf8(password) : password;
}

/**
 * HMAC-SHA-256. An empty key is legal in flex (an empty password), but Web Crypto in Node 20
 * refuses zero-length HMAC keys; HMAC pads short keys with zeros to the block size, so 64 zero
 * bytes is the very same key and gives the same MAC.
 */
export async function hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const raw = key.length === 0 ? new Uint8Array(HMAC_BLOCK) : own(key);
  const k = await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, own(message)));
}

export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** Standard Base64 with padding (Go's base64.StdEncoding). */
export function base64Std(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin);
}

/**
 * Compares two strings in time that depends only on their lengths, so a forged Sum learns
 * nothing from how fast it is refused (Go compares with ==; this is stricter, PROTOCOL.md 12.5).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
