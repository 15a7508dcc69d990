import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Loading and rebuilding the golden vectors of test/fixtures/vectors (see its README). */

export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** An omitted payload: byte i = i mod 256. */
export function pattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i & 0xff;
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A frame's complete bytes: `hex`, plus the rebuilt payload when it was omitted (checked by hash). */
export function frameBytes(
  v: { hex: string; payloadLength?: number; payloadSha256?: string },
  omitted: boolean,
): Uint8Array {
  const head = fromHex(v.hex);
  if (!omitted) return head;
  const payload = pattern(v.payloadLength!);
  if (sha256Hex(payload) !== v.payloadSha256)
    throw new Error(`rebuilt payload does not match ${v.payloadSha256}`);
  return concat([head, payload]);
}

export interface DecodedFrame {
  cmd: number;
  cmdName: string;
  dstIP: number;
  dstPort: number;
  srcIP: number;
  srcPort: number;
  size: number;
  payloadLength: number;
  dataAckSize?: number;
  sid: string;
  payloadHex: string;
  payloadText?: string;
  open?: { domain: string; window: number; windowAsInt32: number };
  openAck?: { ok: boolean; window: number; error: string };
}

export interface FrameVector {
  name: string;
  description: string;
  hex: string;
  payloadOmitted?: boolean;
  payloadLength?: number;
  payloadSha256?: string;
  admitPassword?: string;
  admitJson?: string;
  decoded: DecodedFrame;
}

export interface DecodeOnlyVector {
  name: string;
  description: string;
  transport: 'tcp' | 'ws';
  messageType?: 'binary' | 'text';
  hex: string;
  decoded?: DecodedFrame;
  stream?: DecodedFrame[];
  error?: string;
  panic?: string;
}

export interface FramesFile {
  frames: FrameVector[];
  encodeErrors: { name: string; payloadLength: number; error: string }[];
  decodeOnly: DecodeOnlyVector[];
}

export interface AdmissionRequestVector {
  name: string;
  description: string;
  password: string;
  clientPassword?: string;
  request: {
    fields?: { Version: number; Domain: string; Mac: string; Timestamp: string; Sum: string };
    json: string;
    sumInput: string;
    sumHmacHex: string;
    sumPassword?: string;
    salt: string;
    nonce: string;
    headerRandom: string;
    key: string;
    tag: string;
    frameHex: string;
  };
  expect: {
    verdict: string;
    openWithServerPassword: { ok: boolean; error?: string };
    goAccept: { ok: boolean; domain?: string; error?: string };
    switcherWs?: {
      responseFrameHex: string;
      responseJson: string;
      errCode: number;
      ip: number;
      nextFrameHex?: string;
    };
    switcherTcp?: { received: string; bytesHex?: string; responseJson?: string };
  };
}

export interface AdmissionResponseVector {
  name: string;
  password: string;
  json: string;
  salt: string;
  nonce: string;
  headerRandom: string;
  key: string;
  tag: string;
  frameHex: string;
  expect: { goHandshake: { ok: boolean; ip?: number; error?: string }; openWithWrongPassword: string };
}

export interface AdmissionFile {
  clockNs: string;
  protocolVersion: number;
  requests: AdmissionRequestVector[];
  responses: AdmissionResponseVector[];
}

export interface DomainVector {
  input: string;
  inputHex: string;
  note?: string;
  afterLower: string;
  afterTrim: string;
  normalised: string | null;
  error?: string;
  rule?: string;
}

export interface SessionFrame {
  t: number;
  dir: 'c2s' | 's2c';
  conn: string;
  hex: string;
  note?: string;
  event?: string;
  partial?: boolean;
  payloadTruncated?: boolean;
  payloadLength?: number;
  payloadSha256?: string;
}

export interface SessionFile {
  name: string;
  transport: string;
  password: string;
  connections: Record<string, { transport: 'tcp' | 'ws'; domain: string }>;
  admissions: {
    conn: string;
    domain: string;
    clientPassword?: string;
    timestampNs: string;
    requestJson: string;
    responseJson?: string;
    ip?: number;
  }[];
  frames: SessionFrame[];
}

export const SESSION_FILES = [
  'tcp-domain-dial.json',
  'tcp-pings.json',
  'tcp-wrong-password.json',
  'ws-domain-dial.json',
  'ws-ip-dial-and-dial-errors.json',
  'ws-wrong-password.json',
];
