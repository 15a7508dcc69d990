/**
 * Deterministic pseudo-random bytes (xorshift32). Runtime-neutral, so the in-page browser harness
 * and the Node side of a test generate and check the same bytes.
 */
export function pattern(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
