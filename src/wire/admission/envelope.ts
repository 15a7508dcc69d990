import { AdmissionError, ConfigError } from '../../errors.js';
import { MAX_PAYLOAD } from '../constants.js';
import { hmacSha256, own, type Password, passwordBytes, randomBytes, subtle } from './crypto.js';

/**
 * The admission envelope (PROTOCOL.md 2.4), used for the request and the response alike:
 *
 *   ENV = salt (16) ‖ nonce (12) ‖ AES-256-GCM(key, nonce, plaintext, aad = empty) ‖ tag (16)
 *   key = HMAC-SHA-256(password, salt)
 */

export const SALT_SIZE = 16;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const ENVELOPE_OVERHEAD = SALT_SIZE + NONCE_SIZE + TAG_SIZE;
/** The envelope travels as one frame payload, which bounds the plaintext (2.2). */
export const MAX_PLAINTEXT = MAX_PAYLOAD - ENVELOPE_OVERHEAD;

export interface SealOptions {
  /** Fixed salt for tests and vectors; fresh random bytes otherwise. Never reuse one in production. */
  salt?: Uint8Array;
  /** Fixed GCM nonce for tests and vectors; fresh random bytes otherwise. */
  nonce?: Uint8Array;
}

/** The 32-byte AES key of an envelope: HMAC-SHA-256 keyed with the password over the salt. */
export function deriveKey(password: Password, salt: Uint8Array): Promise<Uint8Array> {
  return hmacSha256(passwordBytes(password), salt);
}

async function aesKey(password: Password, salt: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  const raw = own(await deriveKey(password, salt));
  return subtle().importKey('raw', raw, { name: 'AES-GCM' }, false, [usage]);
}

function fixed(name: string, given: Uint8Array | undefined, size: number): Uint8Array {
  if (given === undefined) return randomBytes(size);
  if (given.length !== size) throw new ConfigError(`${name} must be ${size} bytes, got ${given.length}`);
  return given;
}

/** Seals `plaintext` into a new envelope. */
export async function seal(
  password: Password,
  plaintext: Uint8Array,
  opts: SealOptions = {},
): Promise<Uint8Array> {
  if (plaintext.length > MAX_PLAINTEXT) {
    throw new ConfigError(`admission plaintext of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT}`);
  }
  const salt = fixed('salt', opts.salt, SALT_SIZE);
  const nonce = fixed('nonce', opts.nonce, NONCE_SIZE);
  const key = await aesKey(password, salt, 'encrypt');
  const sealed = await subtle().encrypt(
    { name: 'AES-GCM', iv: own(nonce), tagLength: TAG_SIZE * 8 },
    key,
    own(plaintext),
  );
  const out = new Uint8Array(SALT_SIZE + NONCE_SIZE + sealed.byteLength);
  out.set(salt, 0);
  out.set(nonce, SALT_SIZE);
  out.set(new Uint8Array(sealed), SALT_SIZE + NONCE_SIZE);
  return out;
}

/**
 * Opens an envelope and returns the plaintext. A short envelope or a failed authentication (wrong
 * password, corrupted or forged bytes) throws AdmissionError with reason 'decrypt' and ErrCode -1,
 * which is what a switcher answers for it.
 */
export async function open(password: Password, envelope: Uint8Array): Promise<Uint8Array> {
  if (envelope.length < ENVELOPE_OVERHEAD) {
    throw new AdmissionError(
      `admission envelope of ${envelope.length} bytes is shorter than its ${ENVELOPE_OVERHEAD}-byte overhead`,
      -1,
      { reason: 'decrypt' },
    );
  }
  const salt = envelope.subarray(0, SALT_SIZE);
  const nonce = envelope.subarray(SALT_SIZE, SALT_SIZE + NONCE_SIZE);
  const key = await aesKey(password, salt, 'decrypt');
  try {
    const plain = await subtle().decrypt(
      { name: 'AES-GCM', iv: own(nonce), tagLength: TAG_SIZE * 8 },
      key,
      own(envelope.subarray(SALT_SIZE + NONCE_SIZE)),
    );
    return new Uint8Array(plain);
  } catch (cause) {
    throw new AdmissionError(
      'admission envelope failed authentication (wrong password or corrupted frame)',
      -1,
      {
        reason: 'decrypt',
        cause,
      },
    );
  }
}
