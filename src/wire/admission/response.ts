import { AdmissionError, ConfigError, ProtocolError } from '../../errors.js';
import { PROTOCOL_VERSION } from '../constants.js';
import { encodeUtf8 } from '../utf8.js';
import type { Password } from './crypto.js';
import { open } from './envelope.js';
import { type AdmitFrameOptions, sealAdmitFrame } from './frame.js';
import { decodeObject } from './json.js';
import { goObject } from './json-encode.js';

/**
 * The admission response (PROTOCOL.md 2.7): the switcher's verdict and the node's virtual IP,
 * sealed like the request, and the node's checks of it in Go's order.
 */

export interface AdmitResponse {
  /** 0 admitted, -1 rejected before registration, -2 registration failed. */
  errCode: number;
  errMsg: string;
  /** The node's virtual IP when admitted (1..65534), else 0. */
  ip: number;
  version: number;
}

export interface AdmitResponseInit {
  errCode: number;
  errMsg?: string;
  ip?: number;
  version?: number;
}

export const AdmitErrCode = {
  OK: 0,
  /** Any failure of the checks: password, JSON, version, clock, Sum, domain. */
  REJECTED: -1,
  /** Registration failed: domain held by a live node or being claimed, switcher full, IP conflict. */
  REGISTRATION: -2,
} as const;

/** Go sends this same text for -1 and -2. */
export const REJECT_TEXT = 'handshake rejected';

/**
 * What an ErrCode -2 can mean, for the node's message (a flexmux switcher's refusals `taken`,
 * `busy` and `full`, src/switcher/registry.ts). Right after a node restarts, its own earlier
 * attempt may still be in admission (`busy`) while its old connection is being pinged: such
 * refusals pass by themselves, and a session keeps retrying through them (node/refusal.ts).
 */
const REGISTRATION_CAUSES =
  'the domain is held by another node that still answers, or claimed by a connection still being admitted ' +
  "(often this node's own earlier attempt, just after it restarted), or the switcher is full " +
  '(its maxClients limit, or no free virtual IP)';

const RESPONSE_SCHEMA = {
  ErrCode: 'int64',
  ErrMsg: 'string',
  IP: 'uint16',
  Version: 'int64',
} as const;

/** The response a switcher sends for a rejection with this ErrCode. */
export function rejection(errCode: -1 | -2): AdmitResponse {
  return { errCode, errMsg: REJECT_TEXT, ip: 0, version: PROTOCOL_VERSION };
}

/** The plaintext exactly as a Go switcher writes it: ErrCode, ErrMsg, IP, Version. */
export function encodeResponseJson(res: AdmitResponse): string {
  return goObject([
    ['ErrCode', res.errCode],
    ['ErrMsg', res.errMsg],
    ['IP', res.ip],
    ['Version', res.version],
  ]);
}

/** Parses a response plaintext as Go does. */
export function parseResponseJson(text: Uint8Array): AdmitResponse {
  const v = decodeObject(text, RESPONSE_SCHEMA);
  return {
    errCode: Number(v.ErrCode ?? 0n),
    errMsg: v.ErrMsg ?? '',
    ip: Number(v.IP ?? 0n),
    version: Number(v.Version ?? 0n),
  };
}

/** Seals and frames a response: the complete frame a switcher sends back. */
export async function sealResponse(
  password: Password,
  init: AdmitResponseInit,
  opts: AdmitFrameOptions = {},
): Promise<Uint8Array> {
  const res: AdmitResponse = {
    errCode: init.errCode,
    errMsg: init.errMsg ?? (init.errCode === 0 ? '' : REJECT_TEXT),
    ip: init.ip ?? 0,
    version: init.version ?? PROTOCOL_VERSION,
  };
  if (!Number.isSafeInteger(res.errCode))
    throw new ConfigError(`errCode must be an integer, got ${res.errCode}`);
  if ((res.ip & 0xffff) !== res.ip) throw new ConfigError(`ip must be an integer in 0..65535, got ${res.ip}`);
  return sealAdmitFrame(password, encodeUtf8(encodeResponseJson(res)), opts);
}

/**
 * Opens the payload of the switcher's reply. A reply the node cannot open (typically because its
 * password is wrong and the switcher sealed a rejection with its own) throws AdmissionError with
 * reason 'decrypt' and ErrCode 0: no verdict could be read. Unreadable JSON gives reason 'json'.
 */
export async function openResponse(password: Password, payload: Uint8Array): Promise<AdmitResponse> {
  let text: Uint8Array;
  try {
    text = await open(password, payload);
  } catch (cause) {
    throw new AdmissionError(
      'cannot open the admission response (wrong password or corrupted frame)',
      AdmitErrCode.OK,
      { reason: 'decrypt', cause },
    );
  }
  try {
    return parseResponseJson(text);
  } catch (cause) {
    const detail = cause instanceof ProtocolError ? cause.message : 'unreadable JSON';
    throw new AdmissionError(`admission response unreadable: ${detail}`, AdmitErrCode.OK, {
      reason: 'json',
      cause,
    });
  }
}

/**
 * The node's verdict on a response, in Go's order: a non-zero ErrCode is a rejection carrying
 * that code; otherwise a Version other than 20260225 is refused too, even though ErrCode is 0,
 * and so is an IP outside 1..65534 (reason 'json', stricter than Go). Returns the assigned
 * virtual IP.
 */
export function checkResponse(res: AdmitResponse): number {
  if (res.errCode !== AdmitErrCode.OK) {
    // ErrCode -1 covers every failed check, and Go's text does not say which (the switcher's log
    // does): say what to look at. So does -2, whose text is the same 'handshake rejected': a
    // node whose domain another node took (while it was away, say) heard nothing about its
    // domain, at every retry. The hint is the node's own text, added here: the reply keeps Go's.
    const hint =
      res.errCode === -1
        ? ' (check the password, the domain (access rules may limit a password to some domains) and the clock; the switcher logs the reason)'
        : res.errCode === AdmitErrCode.REGISTRATION
          ? ` (${REGISTRATION_CAUSES}; the switcher logs which; waiting usually mends it)`
          : '';
    throw new AdmissionError(
      `admission rejected by the switcher (ErrCode ${res.errCode}): ${res.errMsg}${hint}`,
      res.errCode,
      {
        reason: res.errCode === AdmitErrCode.REGISTRATION ? 'registration' : 'rejected',
      },
    );
  }
  if (res.version !== PROTOCOL_VERSION) {
    throw new AdmissionError(
      `admission response has version ${res.version}, expected ${PROTOCOL_VERSION}`,
      AdmitErrCode.OK,
      { reason: 'version' },
    );
  }
  // A switcher hands out 1..65534 (7.3): 0 means "this node" and 0xFFFF is the switcher itself,
  // so a node given either could not be addressed. Go adopts it blindly; refusing it here keeps a
  // Session from failing to build its node with a ConfigError and closing for good.
  if (res.ip < 1 || res.ip > 0xfffe) {
    throw new AdmissionError(
      `admission response assigns virtual IP ${res.ip}, outside 1..65534`,
      AdmitErrCode.OK,
      { reason: 'json' },
    );
  }
  return res.ip;
}
