import { ConfigError, ProtocolError } from '../errors.js';
import { MAX_RESET_MESSAGE } from './constants.js';
import { decodeUtf8, encodeUtf8Into } from './utf8.js';

/**
 * StreamReset (0x0E, a flexmux extension, PROTOCOL.md 14.3) payload:
 *
 *   reason code u32 BE ‖ optional UTF-8 message (at most 1024 bytes)
 *
 * Reason codes live in errors.ts (ResetCode); 0x100 and up belong to applications.
 */

export interface ResetPayload {
  code: number;
  message: string;
}

/**
 * Encodes a reset payload. A message longer than 1024 bytes is cut at the last whole character
 * that fits, so the peer always receives valid UTF-8.
 */
export function encodeReset(code: number, message = ''): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
    throw new ConfigError(`reset code must be an integer in 0..4294967295, got ${String(code)}`);
  }
  // A UTF-16 unit never needs more than 3 bytes, so this bound is enough for short messages
  // and caps the buffer at 4 + 1024 for long ones.
  const room = Math.min(MAX_RESET_MESSAGE, message.length * 3);
  const out = new Uint8Array(4 + room);
  out[0] = code >>> 24;
  out[1] = code >>> 16;
  out[2] = code >>> 8;
  out[3] = code;
  const written = room === 0 ? 0 : encodeUtf8Into(message, out.subarray(4));
  return written === room ? out : out.subarray(0, 4 + written);
}

/**
 * Decodes a reset payload. Fewer than 4 bytes is a ProtocolError. A message over the 1024-byte
 * limit is tolerated but only its first 1024 bytes are read, so a peer cannot make us hold more.
 */
export function decodeReset(payload: Uint8Array): ResetPayload {
  if (payload.length < 4) {
    throw new ProtocolError(`StreamReset payload of ${payload.length} bytes is shorter than its 4-byte code`);
  }
  const code = ((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0;
  const end = Math.min(payload.length, 4 + MAX_RESET_MESSAGE);
  const message = end > 4 ? decodeUtf8(payload.subarray(4, end)) : '';
  return { code, message };
}
