import { ProtocolError } from '../errors.js';
import { Cmd, HEADER_SIZE, MAX_PAYLOAD } from './constants.js';

/**
 * One flex frame. `size` is the raw 16-bit header field: the payload length, except for
 * DATA_ACK where it is the acknowledged byte count and `payload` is empty (PROTOCOL.md 1.3).
 */
export interface Frame {
  cmd: number;
  dstIP: number;
  dstPort: number;
  srcIP: number;
  srcPort: number;
  size: number;
  payload: Uint8Array;
  /**
   * Set on the pieces after the first of a data frame that FrameDecoder (splitData) hands over
   * piece by piece: the same frame still, not one more to count.
   */
  continued?: true;
}

// Typed plain Uint8Array: inferred, it is Uint8Array<ArrayBuffer> in the published .d.ts, which
// TypeScript before 5.7 (no type parameter on Uint8Array) reports as an error.
export const EMPTY: Uint8Array = new Uint8Array(0);

/** Payload length that follows a header with this command and size field. */
export function payloadLength(cmd: number, size: number): number {
  return cmd === Cmd.DATA_ACK ? 0 : size;
}

/** Writes the 11-byte header into `out` at `offset` (big-endian, PROTOCOL.md 1.1). */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  cmd: number,
  dstIP: number,
  dstPort: number,
  srcIP: number,
  srcPort: number,
  size: number,
): void {
  out[offset] = cmd;
  out[offset + 1] = dstIP >>> 8;
  out[offset + 2] = dstIP;
  out[offset + 3] = dstPort >>> 8;
  out[offset + 4] = dstPort;
  out[offset + 5] = srcIP >>> 8;
  out[offset + 6] = srcIP;
  out[offset + 7] = srcPort >>> 8;
  out[offset + 8] = srcPort;
  out[offset + 9] = size >>> 8;
  out[offset + 10] = size;
}

/** Reads a header at `offset`; the payload is left empty. */
export function readHeader(buf: Uint8Array, offset: number): Frame {
  return {
    cmd: buf[offset],
    dstIP: (buf[offset + 1] << 8) | buf[offset + 2],
    dstPort: (buf[offset + 3] << 8) | buf[offset + 4],
    srcIP: (buf[offset + 5] << 8) | buf[offset + 6],
    srcPort: (buf[offset + 7] << 8) | buf[offset + 8],
    size: (buf[offset + 9] << 8) | buf[offset + 10],
    payload: EMPTY,
  };
}

/** True for an integer in 0..65535 (false for fractions, negatives, NaN). */
function isU16(v: number): boolean {
  return (v & 0xffff) === v;
}

/** Builds a frame object, checking every field's range. */
export function makeFrame(
  cmd: number,
  dstIP: number,
  dstPort: number,
  srcIP: number,
  srcPort: number,
  payload: Uint8Array = EMPTY,
  ackSize = 0,
): Frame {
  if (payload.length > MAX_PAYLOAD) {
    throw new ProtocolError(`payload of ${payload.length} bytes exceeds the ${MAX_PAYLOAD}-byte limit`);
  }
  const size = cmd === Cmd.DATA_ACK ? ackSize : payload.length;
  if (cmd === Cmd.DATA_ACK && payload.length > 0) {
    throw new ProtocolError('a data-ACK frame carries no payload');
  }
  // Out-of-range fields would be silently truncated by writeHeader; refuse them here instead.
  if ((cmd & 0xff) !== cmd || !isU16(dstIP) || !isU16(dstPort) || !isU16(srcIP) || !isU16(srcPort)) {
    throw new ProtocolError(
      `frame header field out of range: ${cmd} ${dstIP}:${dstPort} ${srcIP}:${srcPort}`,
    );
  }
  if (!isU16(size)) throw new ProtocolError(`data-ACK count ${size} is not in 0..${MAX_PAYLOAD}`);
  return { cmd, dstIP, dstPort, srcIP, srcPort, size, payload };
}

/** Encodes a whole frame into one new buffer (header then payload). */
export function encodeFrame(f: Frame): Uint8Array {
  const len = payloadLength(f.cmd, f.size);
  if (!isU16(f.size)) throw new ProtocolError(`size field ${f.size} is not in 0..${MAX_PAYLOAD}`);
  if (len !== f.payload.length) {
    throw new ProtocolError(`size field ${f.size} disagrees with a payload of ${f.payload.length} bytes`);
  }
  const out = new Uint8Array(HEADER_SIZE + len);
  writeHeader(out, 0, f.cmd, f.dstIP, f.dstPort, f.srcIP, f.srcPort, f.size);
  if (len > 0) out.set(f.payload, HEADER_SIZE);
  return out;
}

/** A new 11-byte header with these fields (for frames whose payload travels as its own part). */
export function header(
  cmd: number,
  dstIP: number,
  dstPort: number,
  srcIP: number,
  srcPort: number,
  size: number,
): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  writeHeader(h, 0, cmd, dstIP, dstPort, srcIP, srcPort, size);
  return h;
}

/** Encodes only the header of a frame. */
export function encodeHeader(f: Frame): Uint8Array {
  return header(f.cmd, f.dstIP, f.dstPort, f.srcIP, f.srcPort, f.size);
}

/** Go's stream key: header bytes 1..8 as a big-endian u64 (PROTOCOL.md 1.1). */
export function sidOf(f: Frame): bigint {
  return (BigInt(f.dstIP) << 48n) | (BigInt(f.dstPort) << 32n) | (BigInt(f.srcIP) << 16n) | BigInt(f.srcPort);
}

/** A frame with source and destination swapped, as replies are addressed. */
export function replyTo(f: Frame, cmd: number, payload: Uint8Array = EMPTY): Frame {
  return makeFrame(cmd, f.srcIP, f.srcPort, f.dstIP, f.dstPort, payload);
}
