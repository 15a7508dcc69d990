/** The admission handshake (PROTOCOL.md 2): envelope, Sum, JSON, request and response. */

export { base64Std, constantTimeEqual, hmacSha256, type Password } from './crypto.js';
export {
  deriveKey,
  ENVELOPE_OVERHEAD,
  MAX_PLAINTEXT,
  NONCE_SIZE,
  open as openEnvelope,
  SALT_SIZE,
  type SealOptions,
  seal as sealEnvelope,
  TAG_SIZE,
} from './envelope.js';
export { type AdmitFrameOptions, encodeAdmitFrame, HEADER_RANDOM_SIZE, sealAdmitFrame } from './frame.js';
export { type Decoded, decodeObject, type FieldKind, type Schema } from './json.js';
export { goObject, goQuote, type JsonScalar } from './json-encode.js';
export {
  type AdmitRequest,
  type AdmitRequestInit,
  buildRequest,
  currentTimeNs,
  encodeRequestJson,
  MAX_CLOCK_SKEW_NS,
  openRequest,
  parseRequestJson,
  sealRequest,
  verifyRequest,
} from './request.js';
export {
  AdmitErrCode,
  type AdmitResponse,
  type AdmitResponseInit,
  checkResponse,
  encodeResponseJson,
  openResponse,
  parseResponseJson,
  REJECT_TEXT,
  rejection,
  sealResponse,
} from './response.js';
export { computeSum, sumInput } from './sum.js';
