import { ConfigError } from '../errors.js';
import { MAX_PAYLOAD } from './constants.js';
import { decodeUtf8, encodeUtf8 } from './utf8.js';

/**
 * PingDomain (0x0A) and its ACK (0x0B) payloads (PROTOCOL.md 6.1-6.3). A ping carries the target
 * domain as text (empty = the switcher itself); an ACK is empty on success, else an error text.
 */

/** Wire texts of failed ping ACKs; they must match Go exactly. */
export const PingErrorText = {
  DOMAIN_NOT_FOUND: 'domain not found',
  INVALID_DOMAIN: 'invalid domain',
  DOMAIN_NOT_MATCH: 'domain not match',
} as const;

export type PingAck = { ok: true } | { ok: false; error: string };

/** Encodes a ping payload: the domain text, which may be empty. */
export function encodePing(domain: string): Uint8Array {
  const out = encodeUtf8(domain);
  if (out.length > MAX_PAYLOAD) throw new ConfigError(`ping domain of ${out.length} bytes is too long`);
  return out;
}

/** Decodes a ping payload. Never throws. */
export function decodePing(payload: Uint8Array): string {
  return decodeUtf8(payload);
}

/** Encodes a ping ACK: empty for success, else the error text (which must not be empty). */
export function encodePingAck(error?: string): Uint8Array {
  if (error === undefined) return new Uint8Array(0);
  const out = encodeUtf8(error);
  if (out.length === 0) throw new ConfigError('a ping error text must be non-empty');
  if (out.length > MAX_PAYLOAD) throw new ConfigError(`ping error text of ${out.length} bytes is too long`);
  return out;
}

/** Decodes a ping ACK: an empty payload is success, anything else is the error text. Never throws. */
export function decodePingAck(payload: Uint8Array): PingAck {
  return payload.length === 0 ? { ok: true } : { ok: false, error: decodeUtf8(payload) };
}
