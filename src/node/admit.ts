import {
  AbortError,
  AdmissionError,
  ConfigError,
  ConnectionClosedError,
  ProtocolError,
  TimeoutError,
} from '../errors.js';
import { Handoff } from '../transport/handoff.js';
import type { Transport } from '../transport/types.js';
import { concatBytes } from '../util/bytes.js';
import { checkMethods, checkOptions, checkType } from '../util/check.js';
import { whenAborted } from '../util/signals.js';
import { MAX_DELAY, now } from '../util/timers.js';
import {
  checkResponse,
  currentTimeNs,
  ENVELOPE_OVERHEAD,
  openResponse,
  sealRequest,
} from '../wire/admission/index.js';
import { HEADER_SIZE } from '../wire/constants.js';
import { decodeMessage } from '../wire/decoder.js';
import { type Frame, payloadLength, readHeader } from '../wire/frame.js';

/** What a close before any reply means: a refusal without a reason, or a switcher gone. */
const CLOSED_DURING_ADMISSION =
  'connection closed during admission, before any reply: refused without a reason (wrong password on a Go switcher; rate limit, overload or shutdown on flexmux: see its log) or the switcher went away; with a tcp:// URL, a TLS port: use tls:// there';

/** Longest wait for Transport.explainClose, ms (the admission's own time bounds it too). */
const EXPLAIN_MS = 3_000;

/** Options of `admit()`: the admission request and its bounds. */
export interface AdmitOptions {
  /** The switcher's password (the shared one, or an extra one of its `access.passwords`). */
  password: string;
  /** The domain to register. */
  domain: string;
  /**
   * Sent with the admission request, as Go sends a MAC address; the switcher lists it as the
   * client's `mac`. Default ''.
   */
  mac?: string;
  /** Milliseconds for the whole exchange (Go: 10 s); more than 0, at most 2^31-1. */
  timeout?: number;
  /** Unix nanoseconds; injectable for tests. */
  clock?: () => bigint;
  /** Aborts the exchange: it fails with AbortError, whose `cause` is the signal's reason. */
  signal?: AbortSignal;
}

/** What a successful `admit()` resolves to. */
export interface Admitted {
  /** The virtual IP the switcher assigned. */
  ip: number;
  /**
   * The transport to hand to a Node: it replays anything that arrived after the response. Reading
   * is paused until it is attached, so the peer feels the wait as backpressure.
   */
  transport: Transport;
}

/**
 * The client side of admission (PROTOCOL.md 2): send the sealed request, read exactly one frame,
 * open and check it. A connection that closes first is a rejection with unknown reason, since a
 * Go switcher on raw TCP rarely delivers its error frame (2.7).
 */
export async function admit(transport: Transport, o: AdmitOptions): Promise<Admitted> {
  // Before the try: what it catches is passed to transport.destroy().
  checkMethods('admit() transport', 'a Transport', transport, ['attach', 'send', 'destroy']);
  let timeoutMs: number;
  try {
    // Null options failed with a TypeError reading their timeout, and left the connection open.
    checkOptions('admit()', o);
    if (o.clock !== undefined) checkType('option clock', o.clock, 'function');
    timeoutMs = o.timeout ?? 10_000;
    // Node runs a timer of over 2^31-1 ms, or NaN, after 1 ms: the admission would fail at once.
    // Fractions are fine (a Session passes what is left of an attempt's time).
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_DELAY)) {
      throw new ConfigError(
        `option timeout must be a number of ms in (0, ${MAX_DELAY}], got ${String(timeoutMs)}`,
      );
    }
  } catch (err) {
    // As on every other failure, the connection is dropped: nobody else will use it.
    transport.destroy(err as Error);
    throw err;
  }
  /** When the exchange times out (a TLS probe after a close must end by then). */
  const deadline = now() + timeoutMs;
  let settle!: { resolve: (f: Frame) => void; reject: (e: Error) => void };
  /** Why the exchange failed before the answer came (an abort, the timeout, a close), if it did. */
  const ended: { err: Error | null } = { err: null };
  const first = new Promise<Frame>((resolve, reject) => {
    settle = {
      resolve,
      reject: (e) => {
        ended.err ??= e;
        reject(e);
      },
    };
  });
  // The connection may be refused while the request is still being sealed: keep that rejection
  // from counting as unhandled before it is awaited.
  first.catch(() => {});
  let got = false;
  // Only the first frame is ours; every byte after it belongs to the node, unparsed. The chunks are
  // kept as they come and joined once: joining each to all before it cost ~n²/2 bytes copied for a
  // reply that arrives a byte at a time.
  const parts: Uint8Array[] = [];
  let have = 0;
  /** Bytes of the whole reply frame once its header is in, else 0. */
  let end = 0;
  const onChunk = (chunk: Uint8Array): void => {
    if (transport.framing === 'message') {
      const f = decodeMessage(chunk);
      checkReplySize(f.payload.length);
      taken(f, []);
      return;
    }
    parts.push(chunk);
    have += chunk.length;
    if (end === 0) {
      // A TLS alert is 7 bytes, after which the server hangs up: judged before a header is in.
      if (have < TLS_RECORD_START) return;
      if (parts.length > 1) parts.splice(0, parts.length, concatBytes(parts));
      // A byte-stream transport of the runtime's (Node.js's TCP and TLS) tells an HTTP or TLS reply,
      // from a port that speaks another protocol, before it is waited on as a frame.
      const foreign = transport.foreignReply?.(parts[0]!);
      if (foreign) throw foreign;
      if (have < HEADER_SIZE) return;
      const h = readHeader(parts[0]!, 0);
      const size = payloadLength(h.cmd, h.size);
      // Refused as soon as the header says so, not after waiting for its payload.
      checkReplySize(size);
      end = HEADER_SIZE + size;
    }
    if (have < end) return;
    const all = parts.length === 1 ? parts[0]! : concatBytes(parts);
    parts.length = 0;
    const f = readHeader(all, 0);
    f.payload = all.subarray(HEADER_SIZE, end);
    taken(f, have > end ? [all.subarray(end)] : []);
  };
  /** The reply is in: the rest is the node's. */
  const taken = (f: Frame, leftover: Uint8Array[]): void => {
    got = true;
    // From here on the handoff holds every event for the node, the close too: a switcher that
    // hangs up right behind its answer (a kick, a shutdown) must not leave the node waiting for
    // a close that was already reported while the answer was being opened. Reading stops until
    // the node attaches: what the switcher sends while the answer is opened (an asynchronous
    // decryption) stays with the transport, not in memory here.
    handoff.detach(leftover);
    settle.resolve(f);
  };
  const handoff = new Handoff(transport, {
    data: (chunk) => {
      if (got) return;
      try {
        onChunk(chunk);
      } catch (err) {
        got = true; // the exchange has failed: nothing more is read for it
        parts.length = 0;
        settle.reject(err as Error);
      }
    },
    drain: () => {},
    close: (err) => {
      // Not necessarily a refusal: a switcher that crashed or restarted ends the exchange too.
      const closed = new AdmissionError(CLOSED_DURING_ADMISSION, 0, {
        cause: err ?? new ConnectionClosedError(),
      });
      // A TLS port (a Go switcher's, or OpenSSL alone) hangs up on a request that is not TLS
      // without a word, exactly as a Go switcher refuses a wrong password: a transport that can
      // tell (dialTcp's asks the port for TLS) says so, within the exchange's time (its timeout
      // or an abort settles it first). Its promise never rejects.
      const why =
        ended.err === null
          ? transport.explainClose?.(Math.min(deadline - now(), EXPLAIN_MS), closed)
          : undefined;
      if (why === undefined) settle.reject(closed);
      else void why.then((e) => settle.reject(e ?? closed));
    },
  });
  const timer = setTimeout(
    () => settle.reject(new TimeoutError(`no admission response within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onAbort = (): void => settle.reject(new AbortError('admission aborted', { cause: o.signal?.reason }));
  // Heard through whenAborted: admissions sharing one signal of the caller's share one listener on
  // it; with a listener each, eleven at once made Node.js warn of a leak.
  const unlisten = o.signal == null ? undefined : whenAborted(o.signal, onAbort);
  try {
    // A listener added to a signal that already fired is never called.
    if (o.signal?.aborted) throw new AbortError('admission aborted', { cause: o.signal.reason });
    const timestamp = (o.clock ?? currentTimeNs)();
    const frame = await sealRequest(o.password, { domain: o.domain, mac: o.mac ?? '', timestamp });
    // Aborted, timed out or closed while the request was sealed: it must not go out now (a
    // switcher would admit a connection its opener has given up).
    if (ended.err !== null) throw ended.err;
    transport.send([frame]);
    const reply = await first;
    const response = await openResponse(o.password, reply.payload);
    checkResponse(response);
    // Aborted while the answer was opened: the answer had settled the exchange already, so the
    // abort went unheard, and an attempt its opener gave up would become a connection.
    if (o.signal?.aborted) throw new AbortError('admission aborted', { cause: o.signal.reason });
    // Bytes (and a close) that came after the response are replayed to the node in order.
    return { ip: response.ip, transport: handoff.view() };
  } catch (err) {
    transport.destroy(err as Error);
    throw err;
  } finally {
    clearTimeout(timer);
    unlisten?.();
  }
}

/** Bytes the foreign-protocol check needs first: a TLS record's content type and version. */
const TLS_RECORD_START = 3;

/**
 * A reply payload too short to be an envelope (salt, nonce and tag alone take 44 bytes) is refused
 * as soon as its size is known. (None can be too long: the 16-bit size field stops at 65,535, and a
 * WebSocket message longer than its size field says is refused by decodeMessage.)
 */
function checkReplySize(size: number): void {
  if (size < ENVELOPE_OVERHEAD) throw new ProtocolError(`admission response of ${size} bytes is too short`);
}
