import { ConfigError } from '../errors.js';
import { ALL_CAPS, DEFAULT_WINDOW, MAX_PAYLOAD } from './constants.js';
import { decodeUtf8, encodeUtf8, encodeUtf8Into, utf8Length } from './utf8.js';

/**
 * OpenStream (0x02) and OpenStream ACK (0x03) payloads (PROTOCOL.md 3.1, 3.5, 14.1):
 *
 *   request  = domain ‖ 00 ‖ window u32 BE ‖ [caps u8]
 *   ACK ok   = 00 ‖ window u32 BE ‖ [caps u8]
 *   ACK fail = error text (non-empty, first byte not 00)
 *
 * Decoders follow Go's lenient rules byte for byte; encoders only produce the canonical form.
 */

export interface OpenRequest {
  /** Bytes before the first NUL, as text (empty for IP dials). */
  domain: string;
  /** The window as the raw unsigned 32-bit value; see windowAsInt32 for what Go makes of it. */
  window: number;
  /** Capability bits (PROTOCOL.md 14.1); 0 when the byte is absent (plain v3, Go). */
  caps: number;
}

export interface OpenRequestInit {
  domain: string;
  /** Preferred window in bytes, 0 = no preference (the default). */
  window?: number;
  /** Omit for plain v3 (what Go sends); set to offer extensions. */
  caps?: number;
}

export type OpenAck = { ok: true; window: number; caps: number } | { ok: false; error: string };

export interface OpenAckInit {
  window: number;
  /** Omit for plain v3 (what Go sends). */
  caps?: number;
}

/** Wire texts of failed OpenStream ACKs (PROTOCOL.md 3.3-3.5); they must match Go exactly. */
export const OpenErrorText = {
  LISTENER_NOT_FOUND: 'listener not found',
  SID_IS_ATTACHED: 'sid is attached',
  LISTENER_CLOSED: 'listener closed',
  BACKLOG_FULL: 'listener backlog full',
  RESOLVE_DOMAIN_FAILED: 'resolve domain failed',
} as const;

function checkWindow(window: number): void {
  if (!Number.isInteger(window) || window < 0 || window > 0xffffffff) {
    throw new ConfigError(`window must be an integer in 0..4294967295, got ${String(window)}`);
  }
}

function checkCaps(caps: number): void {
  if ((caps & 0xff) !== caps) throw new ConfigError(`caps must be an integer in 0..255, got ${String(caps)}`);
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = v >>> 16;
  out[off + 2] = v >>> 8;
  out[off + 3] = v;
}

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Encodes an OpenStream payload. A domain containing NUL is refused: every decoder would cut it. */
export function encodeOpen(init: OpenRequestInit): Uint8Array {
  const window = init.window ?? 0;
  checkWindow(window);
  const hasCaps = init.caps !== undefined;
  if (hasCaps) checkCaps(init.caps!);
  const domain = init.domain;
  if (domain.indexOf('\u0000') !== -1) throw new ConfigError('an OpenStream domain cannot contain NUL');
  const nameLen = utf8Length(domain);
  const len = nameLen + 5 + (hasCaps ? 1 : 0);
  if (len > MAX_PAYLOAD) throw new ConfigError(`OpenStream domain of ${nameLen} bytes is too long`);
  // One allocation: the name is written in place, and the zero-filled buffer supplies the NUL.
  const out = new Uint8Array(len);
  if (nameLen === domain.length) for (let i = 0; i < nameLen; i++) out[i] = domain.charCodeAt(i);
  else encodeUtf8Into(domain, out);
  writeU32(out, nameLen + 1, window);
  if (hasCaps) out[len - 1] = init.caps!;
  return out;
}

/**
 * Decodes an OpenStream payload as Go does: no NUL means the whole payload is the domain (legacy
 * v2 dialers and the JS client); fewer than 4 bytes after the NUL mean window 0; of the bytes after
 * the window the first is the caps byte and the rest are ignored. Never throws.
 */
export function decodeOpen(payload: Uint8Array): OpenRequest {
  const nul = payload.indexOf(0);
  if (nul === -1) return { domain: decodeUtf8(payload), window: 0, caps: 0 };
  const domain = decodeUtf8(payload.subarray(0, nul));
  const rest = payload.length - nul - 1;
  if (rest < 4) return { domain, window: 0, caps: 0 };
  const window = readU32(payload, nul + 1);
  const caps = rest > 4 ? payload[nul + 5] : 0;
  return { domain, window, caps };
}

/**
 * Re-addresses an OpenStream payload to another domain, keeping the window and every byte after
 * it (caps and anything later) unchanged, as a flexmux switcher must for domain dials (14.1).
 */
export function rewriteOpenDomain(payload: Uint8Array, domain: string): Uint8Array {
  const nul = payload.indexOf(0);
  const name = encodeUtf8(domain);
  if (name.indexOf(0) !== -1) throw new ConfigError('an OpenStream domain cannot contain NUL');
  // Legacy payload without NUL or with a short window: Go re-encodes it with window 0.
  const tail = nul === -1 || payload.length - nul - 1 < 4 ? null : payload.subarray(nul + 1);
  const len = name.length + 1 + (tail === null ? 4 : tail.length);
  if (len > MAX_PAYLOAD) throw new ConfigError(`OpenStream domain of ${name.length} bytes is too long`);
  const out = new Uint8Array(len);
  out.set(name, 0);
  if (tail !== null) out.set(tail, name.length + 1);
  return out;
}

/** Encodes a successful ACK: 00 ‖ window ‖ [caps]. */
export function encodeOpenAck(init: OpenAckInit): Uint8Array {
  checkWindow(init.window);
  const hasCaps = init.caps !== undefined;
  if (hasCaps) checkCaps(init.caps!);
  const out = new Uint8Array(hasCaps ? 6 : 5);
  writeU32(out, 1, init.window);
  if (hasCaps) out[5] = init.caps!;
  return out;
}

/** Encodes a failed ACK. The text must be non-empty and must not start with NUL (3.5). */
export function encodeOpenError(text: string): Uint8Array {
  const out = encodeUtf8(text);
  if (out.length === 0 || out[0] === 0) {
    throw new ConfigError('an OpenStream error text must be non-empty and must not start with NUL');
  }
  if (out.length > MAX_PAYLOAD)
    throw new ConfigError(`OpenStream error text of ${out.length} bytes is too long`);
  return out;
}

/**
 * Decodes an ACK as Go does: empty = success with window 0 (legacy peers); first byte 00 = success,
 * window from the next 4 bytes if present (else 0), then an optional caps byte; anything else is
 * an error whose text is the whole payload. Never throws.
 */
export function decodeOpenAck(payload: Uint8Array): OpenAck {
  const n = payload.length;
  if (n === 0) return { ok: true, window: 0, caps: 0 };
  if (payload[0] !== 0) return { ok: false, error: decodeUtf8(payload) };
  if (n < 5) return { ok: true, window: 0, caps: 0 };
  return { ok: true, window: readU32(payload, 1), caps: n > 5 ? payload[5] : 0 };
}

/** What a Go acceptor makes of a wire window: the same bits as int32, so values >= 2^31 are negative. */
export function windowAsInt32(window: number): number {
  return window | 0;
}

/**
 * The acceptor's window choice (PROTOCOL.md 3.4 step 3), on wire values: a window counts as set
 * only when it is positive as int32. Both set gives the smaller, one set gives that one, neither
 * gives 0 (meaning the 2 MiB default). The result is always in 0..2^31-1, ready for the ACK.
 */
export function negotiateWindow(local: number, remote: number): number {
  const l = windowAsInt32(local) > 0 ? local : 0;
  const r = windowAsInt32(remote) > 0 ? remote : 0;
  let result = l;
  if (r > 0 && (l <= 0 || r < l)) result = r;
  return result;
}

/** The credit a stream actually uses for a negotiated wire window: unset (<= 0 as int32) means 2 MiB. */
export function effectiveWindow(window: number): number {
  const w = windowAsInt32(window);
  return w > 0 ? w : DEFAULT_WINDOW;
}

/**
 * The largest window an acceptor may answer an offer with (PROTOCOL.md 3.4 step 3): the offer when
 * it is set, else any window the acceptor is configured with, up to 2^31-1, since the smaller of
 * the two wins only when both are set. So much may come ahead of the ACK (12.2).
 */
export function largestAnswer(offer: number): number {
  return windowAsInt32(offer) > 0 ? offer : 0x7fffffff;
}

/** The acceptor answers with its own caps AND the dialer's; reserved bits are dropped (14.1). */
export function negotiateCaps(local: number, remote: number): number {
  return local & remote & ALL_CAPS;
}
