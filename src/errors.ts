import { clipText } from './wire/utf8.js';

/**
 * Every error flexmux raises is a FlexError with a stable `code` (documented in docs/errors.md).
 * Callers branch on `code` or on the subclass; `instanceof` works across two copies of the package
 * because classes are matched by a registered symbol brand, not by identity.
 */

const BRAND = Symbol.for('flexmux.error');

/** The stable code of a FlexError, one per class: the catalogue of docs/errors.md. */
export type FlexErrorCode =
  | 'FLEX_ERR_PROTOCOL'
  | 'FLEX_ERR_CONFIG'
  | 'FLEX_ERR_ADMISSION_REJECTED'
  | 'FLEX_ERR_DIAL_REFUSED'
  | 'FLEX_ERR_DIAL_TIMEOUT'
  | 'FLEX_ERR_STREAM_RESET'
  | 'FLEX_ERR_STREAM_CLOSED'
  | 'FLEX_ERR_CONNECTION_CLOSED'
  | 'FLEX_ERR_NOT_CONNECTED'
  | 'FLEX_ERR_PING_FAILED'
  | 'FLEX_ERR_TIMEOUT'
  | 'FLEX_ERR_LIMIT'
  | 'FLEX_ERR_ABORTED'
  | 'FLEX_ERR_FLOW_CONTROL'
  | 'FLEX_ERR_DATA_LOST';

/** Options of every FlexError constructor. */
export interface FlexErrorOptions {
  /** The error that led to this one, as `err.cause`. */
  cause?: unknown;
}

/**
 * The base class of every error flexmux raises. Branch on `code` or the subclass; `instanceof` works across
 * two copies of the package (docs/errors.md).
 */
export class FlexError extends Error {
  /**
   * The class's stable name. Written out in every class because minifiers rename classes: it
   * keeps `err.name` readable and `instanceof` working across two copies of the package.
   */
  static readonly kind: string = 'FlexError';
  /** The stable code of the error's class (docs/errors.md). */
  readonly code: FlexErrorCode;

  constructor(code: FlexErrorCode, message: string, options?: FlexErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = (new.target as typeof FlexError).kind;
    (this as unknown as Record<symbol, string[]>)[BRAND] = kindsOf(new.target);
  }

  /** True for an error of this class or a subclass, from this copy of the package or another. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const brands = (value as Record<symbol, unknown>)[BRAND];
    // `this` is the class on the right of instanceof (a subclass too), not always FlexError.
    // biome-ignore lint/complexity/noThisInStatic: the receiver decides which kind to look for
    return Array.isArray(brands) && brands.includes(this.kind);
  }
}

function kindsOf(ctor: unknown): string[] {
  const kinds: string[] = [];
  let c = ctor as typeof FlexError | null;
  while (c !== null && typeof c === 'function' && Object.hasOwn(c, 'kind')) {
    kinds.push(c.kind);
    if (c === FlexError) break;
    c = Object.getPrototypeOf(c) as typeof FlexError | null;
  }
  return kinds;
}

/** Malformed bytes or a peer breaking the protocol. */
export class ProtocolError extends FlexError {
  static override readonly kind: string = 'ProtocolError';
  constructor(message: string, options?: FlexErrorOptions) {
    super('FLEX_ERR_PROTOCOL', message, options);
  }
}

/** An invalid option or argument; thrown synchronously. */
export class ConfigError extends FlexError {
  static override readonly kind: string = 'ConfigError';
  constructor(message: string, options?: FlexErrorOptions) {
    super('FLEX_ERR_CONFIG', message, options);
  }
}

/**
 * Why admission failed, for code that reacts to it (docs/errors.md). The switcher-side checks
 * (PROTOCOL.md 2.6) give 'decrypt' .. 'domain'; a client sees 'rejected' or 'registration' from
 * the response's ErrCode, 'version' from a response of another version, 'decrypt' when it cannot
 * open the response, and 'closed' when the connection ended first.
 */
export type AdmissionReason =
  | 'decrypt'
  | 'json'
  | 'version'
  | 'clock'
  | 'sum'
  | 'domain'
  | 'registration'
  | 'rejected'
  | 'closed';

/** Options of `new AdmissionError()`. */
export interface AdmissionErrorOptions extends FlexErrorOptions {
  /** Why admission failed; by default it follows from the ErrCode (see `AdmissionError.reason`). */
  reason?: AdmissionReason;
}

/** The switcher refused admission: -1 (credentials, version, clock, domain) or -2 (registration). */
export class AdmissionError extends FlexError {
  static override readonly kind: string = 'AdmissionError';
  /** The response's ErrCode (-1 or -2), or 0 when the connection closed before any reply. */
  readonly errCode: number;
  /** Machine-readable cause; defaults from errCode (-2 'registration', 0 'closed', else 'rejected'). */
  readonly reason: AdmissionReason;
  constructor(message: string, errCode: number, options?: AdmissionErrorOptions) {
    super('FLEX_ERR_ADMISSION_REJECTED', message, options);
    this.errCode = errCode;
    this.reason =
      options?.reason ?? (errCode === -2 ? 'registration' : errCode === 0 ? 'closed' : 'rejected');
  }
}

/** Why a dial was refused, from the wire text of the OpenStream ACK (PROTOCOL.md 3.5). */
export type DialRefusal =
  | 'no-listener'
  | 'unknown-domain'
  | 'unknown-ip'
  | 'backlog-full'
  | 'listener-closed'
  | 'sid-in-use'
  | 'limit'
  | 'forbidden'
  | 'other';

const REFUSAL_BY_TEXT: Record<string, DialRefusal> = {
  'listener not found': 'no-listener',
  'resolve domain failed': 'unknown-domain',
  'no node holds the ip': 'unknown-ip',
  'listener backlog full': 'backlog-full',
  'listener closed': 'listener-closed',
  'sid is attached': 'sid-in-use',
  'stream already exists': 'sid-in-use',
  'connection refused': 'no-listener',
  'too many streams': 'limit',
  'dial not allowed': 'forbidden',
};

/**
 * The OpenStream ACK carried an error text instead of success: `remoteText` is that text, `reason` classifies
 * it (docs/errors.md, "Wire texts").
 */
export class DialRefusedError extends FlexError {
  static override readonly kind: string = 'DialRefusedError';
  /** The refusal, classified from `remoteText`; 'other' for a text not in the table. */
  readonly reason: DialRefusal;
  /** The error text the peer sent, whole (the message quotes a clip of it: it may be 64 KiB). */
  readonly remoteText: string;
  /** `target`: the address dialled (`domain:port`), named in the message. */
  constructor(remoteText: string, options?: FlexErrorOptions & { target?: string }) {
    const target = options?.target;
    super(
      'FLEX_ERR_DIAL_REFUSED',
      `dial ${target === undefined ? '' : `${target} `}refused: ${clipText(remoteText)}`,
      options,
    );
    this.remoteText = remoteText;
    this.reason = REFUSAL_BY_TEXT[remoteText] ?? 'other';
  }
}

/**
 * No OpenStream ACK arrived within the dial timeout (`dialTimeout`, 15 s by default). A dial to a virtual IP
 * that no node holds always ends here.
 */
export class DialTimeoutError extends FlexError {
  static override readonly kind: string = 'DialTimeoutError';
  constructor(message = 'dial timed out waiting for the OpenStream ACK', options?: FlexErrorOptions) {
    super('FLEX_ERR_DIAL_TIMEOUT', message, options);
  }
}

/** Reset reason codes of PROTOCOL.md 14.3. */
export const ResetCode = {
  /** 0: the application aborted the stream. */
  CANCELLED: 0,
  /** 1: protocol violation on this stream (e.g. data after FIN). */
  PROTOCOL: 1,
  /** 2: the peer sent beyond its window. */
  FLOW_CONTROL: 2,
  /** 3: internal error at the sender. */
  INTERNAL: 3,
  /** 4: refused, or the sender is shutting down. */
  REFUSED: 4,
  /** 5: the stream was idle too long (also: `end()` got no credit within `endTimeout`). */
  IDLE_TIMEOUT: 5,
} as const;

/**
 * The stream was aborted with a StreamReset (RESET extension only): by the peer when `remote` is true, else
 * locally. Reads and writes in progress fail with it; buffered input is dropped.
 */
export class StreamResetError extends FlexError {
  static override readonly kind: string = 'StreamResetError';
  /** The reset reason code (PROTOCOL.md 14.3); application codes start at 0x100. */
  readonly resetCode: number;
  /** True when the peer reset the stream, false when it was reset locally. */
  readonly remote: boolean;
  constructor(message: string, resetCode: number, remote: boolean, options?: FlexErrorOptions) {
    super('FLEX_ERR_STREAM_RESET', message, options);
    this.resetCode = resetCode;
    this.remote = remote;
  }
}

/**
 * A write to a stream whose writable side is closed, or the peer closed the stream while data was still
 * waiting to be sent.
 */
export class StreamClosedError extends FlexError {
  static override readonly kind: string = 'StreamClosedError';
  constructor(message = 'stream is closed', options?: FlexErrorOptions) {
    super('FLEX_ERR_STREAM_CLOSED', message, options);
  }
}

/**
 * The connection, listener or session went away while an operation was pending: pending dials, pings and
 * accepts fail with it, and so do streams still open.
 */
export class ConnectionClosedError extends FlexError {
  static override readonly kind: string = 'ConnectionClosedError';
  constructor(message = 'connection closed', options?: FlexErrorOptions) {
    super('FLEX_ERR_CONNECTION_CLOSED', message, options);
  }
}

/**
 * An operation was started on a node that is closed, or on a session that is not connected right now (without
 * `waitForReady`).
 */
export class NotConnectedError extends FlexError {
  static override readonly kind: string = 'NotConnectedError';
  constructor(message = 'not connected', options?: FlexErrorOptions) {
    super('FLEX_ERR_NOT_CONNECTED', message, options);
  }
}

/**
 * The ping answer carried an error text: `remoteText` (docs/errors.md, "Ping ACK to PingError.remoteText").
 */
export class PingError extends FlexError {
  static override readonly kind: string = 'PingError';
  /** The error text the switcher or node answered with, if any, whole (the message clips it). */
  readonly remoteText: string;
  /** `target`: what was pinged (a domain, or `the switcher`), named in the message. */
  constructor(remoteText: string, options?: FlexErrorOptions & { target?: string }) {
    const target = options?.target;
    super(
      'FLEX_ERR_PING_FAILED',
      `ping ${target === undefined ? '' : `${target} `}failed: ${clipText(remoteText)}`,
      options,
    );
    this.remoteText = remoteText;
  }
}

/**
 * A ping, the admission exchange, a transport dial or a wait for readiness took longer than its limit; or a
 * stream waited `endTimeout` for credit to finish its writes.
 */
export class TimeoutError extends FlexError {
  static override readonly kind: string = 'TimeoutError';
  constructor(message: string, options?: FlexErrorOptions) {
    super('FLEX_ERR_TIMEOUT', message, options);
  }
}

/**
 * A configured bound is reached: streams per node, pending dials, local dial ports, ping ids, queued control
 * frames, held bytes.
 */
export class LimitError extends FlexError {
  static override readonly kind: string = 'LimitError';
  constructor(message: string, options?: FlexErrorOptions) {
    super('FLEX_ERR_LIMIT', message, options);
  }
}

/** The `AbortSignal` given to a dial, accept, ping, connect or wait fired; `cause` holds the signal's reason. */
export class AbortError extends FlexError {
  static override readonly kind: string = 'AbortError';
  constructor(message = 'operation aborted', options?: FlexErrorOptions) {
    super('FLEX_ERR_ABORTED', message, options);
  }
}

/**
 * The peer sent more data than the negotiated window allows, or more than the connection's
 * `maxReceiveBuffer` holds.
 */
export class FlowControlError extends FlexError {
  static override readonly kind: string = 'FlowControlError';
  constructor(message: string, options?: FlexErrorOptions) {
    super('FLEX_ERR_FLOW_CONTROL', message, options);
  }
}

/**
 * Bytes the peer sent on a stream never arrived: its FIN counted more than came, and the rest can no
 * longer come (a close that travels behind them arrived, or none of them came within `endTimeout`
 * while the connection carried other frames). A relay lost them: a Go switcher drops a frame it
 * cannot forward within 5 s. The stream fails with this rather than end as if it were complete.
 */
export class DataLostError extends FlexError {
  static override readonly kind: string = 'DataLostError';
  /** Bytes counted by the peer's FIN that did not arrive. */
  readonly missing: number;
  constructor(message: string, missing: number, options?: FlexErrorOptions) {
    super('FLEX_ERR_DATA_LOST', message, options);
    this.missing = missing;
  }
}
