/** How many bytes `parts` hold together. */
export function byteLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/**
 * The bytes of `parts[from..]` back to back in one new array, on a plain ArrayBuffer (what a
 * browser WebSocket's send() is typed to take), spelt without Uint8Array's type parameter:
 * TypeScript before 5.7 (whose Uint8Array takes none) reads a .d.ts with one as an error.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  from = 0,
): Uint8Array & { readonly buffer: ArrayBuffer } {
  let size = 0;
  for (let i = from; i < parts.length; i++) size += parts[i]!.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (let i = from; i < parts.length; i++) {
    out.set(parts[i]!, off);
    off += parts[i]!.length;
  }
  return out;
}

/**
 * Whether `view` keeps alive a buffer more than twice its size: received payloads are views of
 * the read buffer they came in (up to 64 KiB), so a small one kept waiting pins all of it.
 */
export function pinsBuffer(view: Uint8Array): boolean {
  return view.byteLength * 2 < view.buffer.byteLength;
}

/** `view` itself, or a copy of it when it would pin a much larger buffer (pinsBuffer). */
export function ownBytes(view: Uint8Array): Uint8Array {
  // A copy by construction: on a Node.js Buffer, slice() is another view.
  return pinsBuffer(view) ? new Uint8Array(view) : view;
}

/**
 * Whether `data` is an ArrayBuffer, of this realm or another: `instanceof ArrayBuffer` is false
 * for one made in another realm (a same-origin iframe's, jsdom's, a vm context's), which Web APIs
 * take all the same. The tag is reliable.
 */
export function isArrayBuffer(data: unknown): data is ArrayBuffer {
  return data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]';
}
