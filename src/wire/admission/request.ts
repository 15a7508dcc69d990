import { AdmissionError, ConfigError, ProtocolError } from '../../errors.js';
import { PROTOCOL_VERSION } from '../constants.js';
import { normalizeDomain } from '../domain.js';
import { clipText, encodeUtf8 } from '../utf8.js';
import { constantTimeEqual, type Password } from './crypto.js';
import { open } from './envelope.js';
import { type AdmitFrameOptions, sealAdmitFrame } from './frame.js';
import { decodeObject } from './json.js';
import { goObject } from './json-encode.js';
import { computeSum } from './sum.js';

/**
 * The admission request (PROTOCOL.md 2.3-2.6): the node's JSON, its sealing into the first frame,
 * and the switcher's checks in Go's order.
 */

export interface AdmitRequest {
  version: number;
  /** The domain as the node configured it (not normalised). */
  domain: string;
  /** Free-form client identifier; Go's default is empty. */
  mac: string;
  /** Client wall clock in Unix nanoseconds: exact, hence a bigint. */
  timestamp: bigint;
  sum: string;
}

export interface AdmitRequestInit {
  domain: string;
  mac?: string;
  timestamp: bigint;
  /** Only for tests of a mismatch; defaults to PROTOCOL_VERSION. */
  version?: number;
  /** Only for tests of a bad Sum; computed from the password otherwise. */
  sum?: string;
}

/** Largest accepted clock difference, inclusive: 5 minutes in nanoseconds (2.6 step 5). */
export const MAX_CLOCK_SKEW_NS = 300_000_000_000n;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const REQUEST_SCHEMA = {
  Version: 'int64',
  Domain: 'string',
  Mac: 'string',
  Timestamp: 'int64',
  Sum: 'string',
} as const;

/** Now as Unix nanoseconds, for the Timestamp and for the switcher's clock check. */
export function currentTimeNs(): bigint {
  // Wall-clock milliseconds, refined with the monotonic clock's sub-millisecond part, so two
  // requests made in one millisecond still carry different timestamps (and Sums).
  const subMs = typeof performance !== 'undefined' ? Math.floor((performance.now() % 1) * 1e6) : 0;
  return BigInt(Date.now()) * 1_000_000n + BigInt(subMs);
}

/** Fills in the version and the Sum. */
export async function buildRequest(password: Password, init: AdmitRequestInit): Promise<AdmitRequest> {
  if (typeof init.timestamp !== 'bigint' || init.timestamp < INT64_MIN || init.timestamp > INT64_MAX) {
    throw new ConfigError('timestamp must be a bigint in the int64 range (Unix nanoseconds)');
  }
  const mac = init.mac ?? '';
  return {
    version: init.version ?? PROTOCOL_VERSION,
    domain: init.domain,
    mac,
    timestamp: init.timestamp,
    sum: init.sum ?? (await computeSum(password, init.domain, mac, init.timestamp)),
  };
}

/** The plaintext exactly as a Go node writes it: Version, Domain, Mac, Timestamp, Sum. */
export function encodeRequestJson(req: AdmitRequest): string {
  return goObject([
    ['Version', req.version],
    ['Domain', req.domain],
    ['Mac', req.mac],
    ['Timestamp', req.timestamp],
    ['Sum', req.sum],
  ]);
}

/** Parses a request plaintext as Go does (case-insensitive names, unknown members ignored). */
export function parseRequestJson(text: Uint8Array): AdmitRequest {
  const v = decodeObject(text, REQUEST_SCHEMA);
  return {
    version: Number(v.Version ?? 0n),
    domain: v.Domain ?? '',
    mac: v.Mac ?? '',
    timestamp: v.Timestamp ?? 0n,
    sum: v.Sum ?? '',
  };
}

/** Builds, seals and frames a request: the complete first frame a node sends. */
export async function sealRequest(
  password: Password,
  init: AdmitRequestInit,
  opts: AdmitFrameOptions = {},
): Promise<Uint8Array> {
  const req = await buildRequest(password, init);
  return sealAdmitFrame(password, encodeUtf8(encodeRequestJson(req)), opts);
}

/**
 * Opens the payload of a node's first frame and parses the request. Throws AdmissionError
 * (ErrCode -1) with reason 'decrypt' or 'json'.
 */
export async function openRequest(password: Password, payload: Uint8Array): Promise<AdmitRequest> {
  const text = await open(password, payload);
  try {
    return parseRequestJson(text);
  } catch (cause) {
    const detail = cause instanceof ProtocolError ? cause.message : 'unreadable JSON';
    throw new AdmissionError(`admission request rejected: ${detail}`, -1, { reason: 'json', cause });
  }
}

function reject(reason: 'version' | 'clock' | 'sum' | 'domain', message: string): never {
  throw new AdmissionError(`admission request rejected: ${message}`, -1, { reason });
}

/**
 * The switcher's checks after decoding, in Go's order (2.6 steps 4-7): version, clock within 5
 * minutes either way (inclusive), Sum over the exact Timestamp digits (compared in constant time),
 * then the domain. Returns the normalised domain to register; throws AdmissionError (ErrCode -1)
 * naming the failed check in `reason`.
 */
export async function verifyRequest(
  password: Password,
  req: AdmitRequest,
  nowNs: bigint,
): Promise<{ domain: string }> {
  if (req.version !== PROTOCOL_VERSION) {
    reject('version', `version mismatch: local=${PROTOCOL_VERSION} remote=${req.version}`);
  }
  const skew = nowNs - req.timestamp;
  if (skew > MAX_CLOCK_SKEW_NS || skew < -MAX_CLOCK_SKEW_NS) {
    reject('clock', `timestamp ${req.timestamp} is ${skew / 1_000_000n} ms away from the switcher's clock`);
  }
  const expected = await computeSum(password, req.domain, req.mac, req.timestamp);
  if (!constantTimeEqual(req.sum, expected)) reject('sum', 'Sum does not verify (wrong password)');
  const domain = normalizeDomain(req.domain);
  if (domain === null) reject('domain', `invalid domain ${JSON.stringify(clipText(req.domain))}`);
  return { domain };
}
