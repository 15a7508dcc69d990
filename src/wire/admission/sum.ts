import { encodeUtf8 } from '../utf8.js';
import { base64Std, hmacSha256, type Password, passwordBytes } from './crypto.js';

/**
 * The request's Sum (PROTOCOL.md 2.5): Base64Std(HMAC-SHA-256(password, Domain,Mac,Timestamp)).
 * Domain and Mac are taken as sent (before normalisation); Timestamp is rendered as its canonical
 * decimal digits. It must come from a bigint: Unix nanoseconds (~1.8e18) are beyond 2^53, and a
 * float would change the digits and with them the Sum.
 */

/** The exact text the Sum authenticates. */
export function sumInput(domain: string, mac: string, timestamp: bigint): string {
  return `${domain},${mac},${timestamp.toString()}`;
}

/** Computes the Sum of a request. */
export async function computeSum(
  password: Password,
  domain: string,
  mac: string,
  timestamp: bigint,
): Promise<string> {
  const mac32 = await hmacSha256(passwordBytes(password), encodeUtf8(sumInput(domain, mac, timestamp)));
  return base64Std(mac32);
}
