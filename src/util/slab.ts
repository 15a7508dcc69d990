/**
 * Small byte arrays for frames on their way to a transport. V8 keeps a typed array of 64 bytes or
 * less inside the JS heap, and the first time anything reads such an array's `.buffer` it moves
 * the bytes out to a new ArrayBuffer of their own. Node's writable streams do exactly that for
 * every Uint8Array written (to wrap it in a Buffer), which made each 11-byte frame header cost
 * about 1 µs; a view of a larger array, which lives outside the heap from the start, costs a
 * tenth of that. So small arrays are cut from a shared slab instead. Each region is handed out
 * once, zero-filled; a slab is dropped when full and freed once no view of it is left. Frames
 * wait in queues only while the transport is blocked, and then all of them do, so the headers
 * held at any time come from few slabs; slabs are small (4 KiB) so one held header cannot pin
 * much.
 */

/** Larger arrays are allocated outside the JS heap anyway. */
const MAX_SMALL = 64;
const SLAB_SIZE = 4 * 1024;

let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/** A new zero-filled array of `n` bytes; from the slab when it is small. */
export function allocBytes(n: number): Uint8Array {
  if (n > MAX_SMALL) return new Uint8Array(n);
  if (used + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    used = 0;
  }
  const view = slab.subarray(used, used + n);
  used += n;
  return view;
}
