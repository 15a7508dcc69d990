import { ConfigError, ConnectionClosedError } from '../errors.js';
import { checkDelay, checkLogger, shown } from '../util/check.js';
import { containedLogger, type Logger, silentLogger } from '../util/logger.js';

/**
 * Every transport default in one frozen object (STYLE.md habit 6), runtime-neutral so the browser
 * transport can share it. Options that are not given take their value from here.
 */
export const transportDefaults = Object.freeze({
  /** ms one connection attempt may take, transport and admission each (`connect()`, the CLI). */
  connectTimeout: 10_000,
  /** ms a graceful `close` may take (peer flushing and answering) before the connection is destroyed. */
  closeTimeout: 5_000,
  /** Memory pair: in-flight bytes above which `send` returns false. */
  memoryHighWaterMark: 256 * 1024,
  /** WebSocket (node and browser): buffered bytes above which `send` returns false. */
  wsHighWaterMark: 1024 * 1024,
  /** One flex frame per message: 11-byte header plus the largest payload (PROTOCOL.md 1.3, 1.6). */
  wsMaxPayload: 11 + 65_535,
  /**
   * ms an HTTP connection to a WebSocket listener has to send its whole upgrade request (headers
   * included); then it is closed. Switcher listeners use the admission timeout instead.
   */
  wsHandshakeTimeout: 10_000,
  /**
   * ms a connection to a TLS listener has to finish its TLS handshake; then it is closed. Node's
   * own default (120 s) let a crowd that never sends a ClientHello hold its sockets for minutes.
   * Switcher listeners use the admission timeout instead.
   */
  tlsHandshakeTimeout: 10_000,
  /**
   * TLS and WebSocket listeners: connections held in their TLS handshake or HTTP upgrade at once;
   * more are closed at once (the handshake timeout bounds how long each is held, this how many).
   */
  maxPendingHandshakes: 1_024,
  /** The path the Go example gateway serves (PROTOCOL.md 1.6); nothing in the protocol depends on it. */
  wsPath: '/flex/ws',
  /** Browser WebSocket: ms between `bufferedAmount` polls while above the high-water mark. */
  browserPollInterval: 10,
  /**
   * Browser WebSocket: bytes of incoming messages held while reading is paused before the
   * connection is closed (it cannot pause its peer; a server on Deno or Bun pauses slow clients).
   */
  browserMaxHeldBytes: 64 * 1024 * 1024,
});

/** Throws ConfigError unless `value` is undefined or a finite number >= `min` (an integer if asked). */
/**
 * A listener's `logger` option, checked (a Logger or left out) and contained: its lines come from
 * a server's event handlers, where a logger that throws (a closed pipe) ended the process.
 */
export function listenerLogger(given: Logger | undefined): Logger {
  return containedLogger(checkLogger('option logger', given) ?? silentLogger);
}

export function checkNumber(name: string, value: number | undefined, min: number, integer = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new ConfigError(`${name} must be a number >= ${min}, got ${shown(value)}`);
  }
  if (integer && !Number.isInteger(value)) throw new ConfigError(`${name} must be an integer, got ${value}`);
}

/**
 * Runs `make` (a runtime constructor given user options: tls.createServer, https.createServer) and
 * turns what it throws, an option the runtime refuses (a key that does not parse, a bad
 * minVersion), into a ConfigError with the original as cause, as the dialers do (dial.ts).
 */
export function withConfigErrors<T>(what: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`${what}: ${message}`, { cause: err });
  }
}

/**
 * checkNumber for an optional delay in ms, through checkDelay: it also refuses more than a timer
 * can wait (Node runs a delay of 2^31 ms or more after 1 ms, so a long dial timeout would fail
 * every dial at once and a long closeTimeout would turn every graceful close into a destroy).
 */
export function checkDelayOption(
  name: string,
  value: number | undefined,
  min: number,
  integer = false,
): void {
  if (value === undefined) return;
  checkDelay(name, value, min);
  if (integer && !Number.isInteger(value)) throw new ConfigError(`${name} must be an integer, got ${value}`);
}

export function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError(`port must be an integer in 0..65535, got ${shown(port)}`);
  }
}

export interface WaterMarkOptions {
  /** `send` returns false once more than this many bytes are outstanding. */
  highWaterMark?: number;
  /** `drain` fires once outstanding bytes fall to this many or fewer; default half the high mark. */
  lowWaterMark?: number;
}

/** Validates a high/low pair; the low mark must not exceed the high one or drain could never follow. */
export function waterMarks(options: WaterMarkOptions, defaultHigh: number): { high: number; low: number } {
  checkNumber('highWaterMark', options.highWaterMark, 1, true);
  checkNumber('lowWaterMark', options.lowWaterMark, 0, true);
  const high = options.highWaterMark ?? defaultHigh;
  const low = options.lowWaterMark ?? Math.floor(high / 2);
  if (low > high) throw new ConfigError(`lowWaterMark (${low}) must not exceed highWaterMark (${high})`);
  return { high, low };
}

/** `host:port`, with IPv6 literals bracketed so the port stays unambiguous. */
export function formatAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? 'unknown';
  const hostPart = h.includes(':') ? `[${h}]` : h;
  return port === undefined ? hostPart : `${hostPart}:${port}`;
}

/**
 * The code a WebSocket transport gives (on its error's `cause`) to a connection that ended without
 * a close frame (1006): its peer was killed or the path went, as ECONNRESET says over TCP.
 */
export const ABNORMAL_CLOSURE = 'WS_ABNORMAL_CLOSURE';

/**
 * The cause a WebSocket transport (ws.ts, ws-browser.ts) gives a 1006 close: no close frame came,
 * the peer or the path went (see hungUp()).
 */
export function abnormalClosure(): Error {
  return Object.assign(new Error('the connection ended without a WebSocket close frame'), {
    code: ABNORMAL_CLOSURE,
  });
}

/** Codes of a connection whose peer went away abruptly (killed, its machine gone). */
const HANG_UPS = new Set(['ECONNRESET', 'EPIPE', ABNORMAL_CLOSURE]);

/** Whether `err`, or an error it wraps (a transport wraps its socket's), is such a hang-up. */
export function hungUp(err: unknown): boolean {
  let e = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && HANG_UPS.has(code)) return true;
    e = e.cause;
  }
  return false;
}

/**
 * A graceful close that ran out of time with `unsent` bytes `send` accepted still unsent: they are
 * dropped, so the transport ends with this failure (none when nothing was left, a clean end).
 */
export function closeTimedOut(remote: string, ms: number, unsent: number): ConnectionClosedError | undefined {
  if (unsent === 0) return undefined;
  return new ConnectionClosedError(
    `close to ${remote} did not finish within ${ms} ms: ${unsent} bytes unsent were dropped`,
  );
}
