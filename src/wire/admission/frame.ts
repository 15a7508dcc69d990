import { ConfigError } from '../../errors.js';
import { Cmd, HEADER_SIZE, MAX_PAYLOAD } from '../constants.js';
import type { Password } from './crypto.js';
import { randomBytes } from './crypto.js';
import { type SealOptions, seal } from './envelope.js';

/**
 * The admission frame (PROTOCOL.md 2.2): cmd 0x00, header bytes 1..8 random (cosmetic: receivers
 * ignore them, zeros are accepted), size = envelope length, then the envelope.
 */

export const HEADER_RANDOM_SIZE = 8;

export interface AdmitFrameOptions extends SealOptions {
  /** Fixed header bytes 1..8 for tests and vectors; random otherwise. */
  headerRandom?: Uint8Array;
}

/** Frames an envelope as an admission frame. */
export function encodeAdmitFrame(envelope: Uint8Array, headerRandom?: Uint8Array): Uint8Array {
  if (envelope.length > MAX_PAYLOAD) {
    throw new ConfigError(`admission envelope of ${envelope.length} bytes does not fit in one frame`);
  }
  const rnd = headerRandom ?? randomBytes(HEADER_RANDOM_SIZE);
  if (rnd.length !== HEADER_RANDOM_SIZE) {
    throw new ConfigError(`headerRandom must be ${HEADER_RANDOM_SIZE} bytes, got ${rnd.length}`);
  }
  const out = new Uint8Array(HEADER_SIZE + envelope.length);
  out[0] = Cmd.ADMIT;
  out.set(rnd, 1);
  out[9] = envelope.length >>> 8;
  out[10] = envelope.length;
  out.set(envelope, HEADER_SIZE);
  return out;
}

/** Seals a plaintext and frames it: the complete bytes to send as the first frame. */
export async function sealAdmitFrame(
  password: Password,
  plaintext: Uint8Array,
  opts: AdmitFrameOptions = {},
): Promise<Uint8Array> {
  return encodeAdmitFrame(await seal(password, plaintext, opts), opts.headerRandom);
}
