import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { byteLength } from '../util/bytes.js';

/** What the writer needs of the connection under a WebSocket. */
export type FrameSocket = Pick<Duplex, 'cork' | 'uncork' | 'write'>;

/** `bufferutil`'s mask: `output[offset + i] = source[i] ^ mask[i & 3]` for i < length. */
type MaskFn = (
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
) => void;

/** RFC 6455 5.2: FIN set, opcode 2 (binary): a whole binary message in one frame. */
const FIN_BINARY = 0x82;
const MASK_BIT = 0x80;
/** Leading parts up to this size are copied into the frame header's buffer: one write less. */
const INLINE_MAX = 64;
/** Below this a JavaScript loop masks faster than a call into the addon (as ws judges too). */
const NATIVE_MASK_FROM = 48;
const RANDOM_POOL = 8192;
/** A masked frame of the largest flex frame (11 + 65,535 bytes): header 14 bytes, key included. */
const SPARE_SIZE = 14 + 11 + 65_535;
/** Masked frames shorter than this come from Node's own 8 KiB pool and are not kept. */
const SPARE_FROM = 4096;
/** Buffers kept for reuse, for the whole process: at most 8 × 64 KiB, whatever the connections. */
const SPARES_MAX = 8;

/**
 * Buffers of masked frames that the socket has written, for the next masked frames. A new 64 KiB
 * buffer per frame costs its page faults and its collection each time (masking into one measured
 * ×4–5 slower than into a reused one), and every client frame of a bulk stream is one.
 */
const spares: Buffer[] = [];

function maskInJs(
  source: Uint8Array,
  mask: Uint8Array,
  output: Uint8Array,
  offset: number,
  length: number,
): void {
  for (let i = 0; i < length; i++) output[offset + i] = source[i] ^ mask[i & 3];
}

let nativeMask: MaskFn | null | undefined;

/**
 * `bufferutil`'s native mask where it is installed (an optional dependency, as for ws, which masks
 * byte by byte without it: docs/performance.md, "WebSocket"); ws's WS_NO_BUFFER_UTIL turns it off.
 */
function masker(): MaskFn | null {
  if (nativeMask === undefined) {
    nativeMask = null;
    if (!process.env.WS_NO_BUFFER_UTIL) {
      try {
        const lib = createRequire(import.meta.url)('bufferutil') as { mask?: MaskFn };
        if (typeof lib.mask === 'function') nativeMask = lib.mask;
      } catch {
        // not installed: the JavaScript loop
      }
    }
  }
  return nativeMask;
}

/** Bytes of a frame header: 2, plus 2 or 8 for the extended length, plus 4 for a masking key. */
function headerLength(length: number, masked: boolean): number {
  return (length > 65535 ? 10 : length > 125 ? 4 : 2) + (masked ? 4 : 0);
}

/** Writes the frame header for a `length`-byte payload at the start of `out`; returns its size. */
function putHeader(out: Buffer, length: number, masked: boolean): number {
  out[0] = FIN_BINARY;
  const bit = masked ? MASK_BIT : 0;
  if (length <= 125) {
    out[1] = bit | length;
    return 2;
  }
  if (length <= 65535) {
    out[1] = bit | 126;
    out.writeUInt16BE(length, 2);
    return 4;
  }
  out[1] = bit | 127;
  out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  out.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/**
 * Sends a flex frame, given as parts, as one binary WebSocket message of one frame (FIN set),
 * written straight to the connection under `ws`. `ws.send` takes one buffer per frame, so a frame
 * given as header and payload went as two fragments (or was copied together): the receiving `ws`
 * then copies the fragments into one buffer, a copy and a 64 KiB allocation per flex frame at
 * the switcher and at the receiving node (docs/performance.md, "WebSocket relay"). Here the
 * payload is written as it is (server side; a client with an all-zero masking key) or masked once
 * into the buffer that carries the header (a client: RFC 6455 5.3, ws copies to mask too).
 *
 * On the wire this is what a Go peer writes (PROTOCOL.md 1.6: header and payload in one message)
 * and what any WebSocket reader takes. It is safe beside `ws`'s own writes (pongs, the close
 * frame) because those go to the same socket in call order: without an extension `ws` sends each
 * frame at once, and the transport writes only while the WebSocket is open.
 */
export class WsFrameWriter {
  private readonly key = Buffer.alloc(4);
  private readonly rotated = Buffer.alloc(4);
  private pool: Buffer | null = null;
  private poolAt = RANDOM_POOL;

  /**
   * @param masked a client's frames: masked with a fresh key each (or `generateMask`'s).
   * @param generateMask fills the masking key, as ws's option of that name (`wsZeroMask`).
   */
  constructor(
    private readonly socket: FrameSocket,
    private readonly masked: boolean,
    private readonly generateMask?: (mask: Buffer) => void,
  ) {}

  /** Writes one message of `parts`; `done` is the socket's callback for its last byte. */
  write(parts: readonly Uint8Array[], done: () => void): void {
    const length = byteLength(parts);
    const key = this.masked ? this.nextKey() : null;
    if (key !== null && (key[0] | key[1] | key[2] | key[3]) !== 0) {
      this.writeMasked(parts, length, key, done);
      return;
    }
    const head = headerLength(length, key !== null);
    // Small leading parts (the 11-byte flex header) ride in the header's buffer.
    let inline = 0;
    let first = 0;
    while (first < parts.length && inline + parts[first].length <= INLINE_MAX)
      inline += parts[first++].length;
    const out = Buffer.allocUnsafe(head + inline);
    let at = putHeader(out, length, key !== null);
    if (key !== null) {
      out.set(key, at);
      at += 4;
    }
    for (let i = 0; i < first; i++) {
      out.set(parts[i], at);
      at += parts[i].length;
    }
    let last = parts.length - 1;
    while (last >= first && parts[last].length === 0) last--;
    const socket = this.socket;
    if (last < first) {
      socket.write(out, done);
      return;
    }
    socket.cork();
    try {
      socket.write(out);
      for (let i = first; i < last; i++) if (parts[i].length > 0) socket.write(parts[i]);
      socket.write(parts[last], done);
    } finally {
      // A socket left corked would hold everything after this message back for good.
      socket.uncork();
    }
  }

  /** Header, key and the masked parts in one new buffer: the one copy masking needs anyway. */
  private writeMasked(parts: readonly Uint8Array[], length: number, key: Buffer, done: () => void): void {
    const size = headerLength(length, true) + length;
    const spare = size >= SPARE_FROM && size <= SPARE_SIZE;
    const whole = spare ? (spares.pop() ?? Buffer.allocUnsafeSlow(SPARE_SIZE)) : null;
    const out = whole === null ? Buffer.allocUnsafe(size) : whole.subarray(0, size);
    let at = putHeader(out, length, true);
    out.set(key, at);
    at += 4;
    const native = masker();
    let offset = 0;
    for (const p of parts) {
      if (p.length === 0) continue;
      // The key runs on from where the last part stopped (byte i of the payload takes key[i % 4]).
      const r = this.rotated;
      for (let j = 0; j < 4; j++) r[j] = key[(offset + j) & 3];
      if (native !== null && p.length >= NATIVE_MASK_FROM) native(p, r, out, at, p.length);
      else maskInJs(p, r, out, at, p.length);
      at += p.length;
      offset += p.length;
    }
    if (whole === null) {
      this.socket.write(out, done);
      return;
    }
    // Once written, the socket holds no reference to the bytes: the buffer may be filled again.
    this.socket.write(out, () => {
      if (spares.length < SPARES_MAX) spares.push(whole);
      done();
    });
  }

  private nextKey(): Buffer {
    const key = this.key;
    if (this.generateMask !== undefined) {
      this.generateMask(key);
      return key;
    }
    if (this.poolAt + 4 > RANDOM_POOL || this.pool === null) {
      this.pool ??= Buffer.allocUnsafe(RANDOM_POOL);
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    const pool = this.pool;
    const at = this.poolAt;
    key[0] = pool[at];
    key[1] = pool[at + 1];
    key[2] = pool[at + 2];
    key[3] = pool[at + 3];
    this.poolAt = at + 4;
    return key;
  }
}
