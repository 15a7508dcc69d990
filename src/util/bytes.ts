/** The bytes of `parts[from..]` back to back in one new array. */
export function concatBytes(parts: readonly Uint8Array[], from = 0): Uint8Array<ArrayBuffer> {
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
