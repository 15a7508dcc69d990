import { AdmissionError, ConnectionClosedError, ProtocolError, TimeoutError } from '../errors.js';
import { transportDefaults } from '../transport/defaults.js';
import type { Transport, TransportHandlers } from '../transport/types.js';
import { type TimerHandle, timeout } from '../util/timers.js';
import {
  type AdmitRequest,
  ENVELOPE_OVERHEAD,
  openRequest,
  SALT_SIZE,
  verifyRequest,
} from '../wire/admission/index.js';
import { HEADER_SIZE } from '../wire/constants.js';
import { decodeMessage, FrameDecoder } from '../wire/decoder.js';
import type { Frame } from '../wire/frame.js';
import { clipText } from '../wire/utf8.js';
import type { AccessPolicy, Credential } from './access.js';
import type { ReplayCache } from './guards.js';

/**
 * The switcher's side of admission (PROTOCOL.md 2.6): read exactly one frame within a deadline,
 * then open and check it. Frames that arrive behind the admission frame are kept, decoded, for
 * the router of the admitted client.
 */

/**
 * Every reason a connection may be refused, at run time too: the admin's refusal counter starts
 * each at 0, so the first refusal for a reason is an increase Prometheus can see.
 */
export const REFUSAL_REASONS = [
  'decrypt',
  'json',
  'version',
  'clock',
  'sum',
  'domain',
  'forbidden',
  'replay',
  'taken',
  'busy',
  'full',
  'timeout',
  'closed',
  'malformed',
  'rate-limited',
  'overloaded',
  'shutdown',
  'http',
  'tls',
] as const;

/** Why a connection was not admitted; `errCode` is what the reply carried (0: no reply). */
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Why an admission request was refused, and what to answer. */
export interface Refusal {
  /** Always false: tells a refusal from an accepted request. */
  readonly ok: false;
  /** Why, for code and logs. */
  readonly reason: RefusalReason;
  /** -1 (checks), -2 (registration), or 0 when no reply is sent. */
  readonly errCode: -1 | -2 | 0;
  /** A description for the log. */
  readonly message: string;
  /** The password that opened the request; the reply is sealed with it (else the shared one). */
  readonly credential?: Credential;
  /** The requested domain, once known. */
  readonly domain?: string;
}

export interface Verified {
  readonly ok: true;
  readonly credential: Credential;
  readonly request: AdmitRequest;
  /** The normalised domain to register. */
  readonly domain: string;
}

export function refusal(
  reason: RefusalReason,
  errCode: -1 | -2 | 0,
  message: string,
  extra: { credential?: Credential; domain?: string } = {},
): Refusal {
  return { ok: false, reason, errCode, message, ...extra };
}

/**
 * The request lines an HTTP client may start a connection with (a WebSocket client given a
 * switcher's tcp:// port, a browser, curl, a scanner, an HTTP/2 client), with the space that
 * ends the method. A
 * flex node never starts so: its first byte is the admission frame's command, 0x00 (PROTOCOL.md
 * 2.2), from a Go node as from flexmux. The longest is 8 bytes, less than a frame header, so the
 * verdict comes before a frame could.
 */
const HTTP_METHODS = [
  'GET ',
  'POST ',
  'PUT ',
  'HEAD ',
  'DELETE ',
  'OPTIONS ',
  'PATCH ',
  'CONNECT ',
  'TRACE ',
  // The HTTP/2 connection preface (RFC 9113 3.4) of a client with prior knowledge of h2c: a
  // gRPC or curl --http2-prior-knowledge client given the port. Read as a frame header it
  // announced 20,527 bytes, and waited for the admission timeout as HTTP/1 requests did.
  'PRI ',
];
const SNIFF_BYTES = Math.max(...HTTP_METHODS.map((m) => m.length));

/**
 * How a TLS client (a tls:// or wss:// URL given a switcher's tcp:// port) starts: a handshake
 * record (0x16) of TLS major version 3 (RFC 8446 5.1; every TLS and SSL 3 record). Read as a frame
 * header, a ClientHello announces a payload of 771 bytes (its client_version, 0x0303) where Node's
 * sends 369 in all: client and switcher each waited for the other until the admission timeout.
 */
const TLS_RECORD = '\x16\x03';

/** What the first bytes of a byte stream say so far: an HTTP request, TLS, a frame, or not yet known. */
function sniff(head: string): 'http' | 'tls' | 'flex' | 'more' {
  if (HTTP_METHODS.some((m) => head.startsWith(m))) return 'http';
  if (head.startsWith(TLS_RECORD)) return 'tls';
  return HTTP_METHODS.some((m) => m.startsWith(head)) || TLS_RECORD.startsWith(head) ? 'more' : 'flex';
}

/** What the switcher answers an HTTP request on a flex byte-stream port with, before it closes. */
export const HTTP_REQUEST_REFUSAL_BODY = `This is a flex TCP port, not HTTP or WebSocket: connect to it with a tcp:// URL (tls:// if it is a TLS port), or give a WebSocket client the switcher's ws:// or wss:// URL (path ${transportDefaults.wsPath} by default).\n`;

/** What the admitted client's router receives once it takes over the connection. */
export interface FrameSink {
  frame(f: Frame): void;
  drain(): void;
  /** The transport closed (err set when it failed). */
  closed(err?: Error): void;
  /** Bytes that do not form a valid frame arrived. */
  malformed(err: ProtocolError): void;
  /** A bug of ours threw while a frame was handled: the switcher's fault, not the node's. */
  failed(err: unknown): void;
}

/**
 * Attaches to a fresh transport and reads its first frame. Reading pauses as soon as that frame
 * is complete; whatever was decoded behind it is held (bounded) and replayed to `handOff`.
 */
export class AdmissionReader implements TransportHandlers {
  /**
   * The admission frame, or the refusal, until admission is over (handOff, discard). Then it is
   * dropped, with the functions that settle it: the reader stays the transport's handler for the
   * whole connection, and a settled promise kept the frame, whose bytes (and the read chunk
   * its payload is a view of) were held as long as the client was connected.
   */
  private firstFrame: Promise<Frame> | null;
  private settle: { resolve: (f: Frame) => void; reject: (r: Refusal | Error) => void } | null = null;
  private readonly decoder: FrameDecoder | null;
  private got = false;
  private early: Frame[] = [];
  private earlyBytes = 0;
  private sink: FrameSink | null = null;
  private ended: { err: Error | undefined } | null = null;
  private discarding = false;
  /** The first bytes of a byte stream, as text, until they tell an HTTP request (null: decided). */
  private head: string | null;
  /** Why the reader gave up on the connection after the first frame was read, if it did. */
  failure: Refusal | null = null;
  /** A bug of ours that threw while a frame was read before the handoff, if one did. */
  fault: Error | null = null;
  private timer: TimerHandle | undefined;
  /** Called once the transport has closed (onEnd). */
  private ender: (() => void) | null = null;

  constructor(
    readonly transport: Transport,
    timeoutMs: number,
    private readonly maxEarlyBytes: number,
    private readonly maxEarlyFrames: number,
  ) {
    this.firstFrame = new Promise<Frame>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A refusal here is read by the switcher; never leave it unhandled if nobody awaits.
    this.firstFrame.catch(() => {});
    this.decoder = transport.framing === 'stream' ? new FrameDecoder((f) => this.onFrame(f)) : null;
    // A WebSocket message is binary or refused: HTTP can only come as a byte stream.
    this.head = this.decoder !== null ? '' : null;
    this.timer = timeout(() => {
      this.timer = undefined;
      this.fail(
        refusal('timeout', 0, `no admission frame within ${timeoutMs} ms`),
        new TimeoutError('admission timed out'),
      );
    }, timeoutMs);
    transport.attach(this);
  }

  /**
   * The admission frame, or a Refusal as rejection (an Error for a bug of ours: `fault`); read it
   * before admission is over.
   */
  get first(): Promise<Frame> {
    if (this.firstFrame === null) throw new Error('admission is over: the first frame is released');
    return this.firstFrame;
  }

  /** Whether the first frame (or its refusal) is still held. */
  get holdsFirst(): boolean {
    return this.firstFrame !== null;
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  /** Whether an admitted client took the connection over (handOff). */
  get handedOff(): boolean {
    return this.sink !== null;
  }

  /** Calls `fn` once the transport has closed: now if it has. */
  onEnd(fn: () => void): void {
    if (this.ended !== null) fn();
    else this.ender = fn;
  }

  data(chunk: Uint8Array): void {
    if (this.ended || this.discarding) return;
    if (this.head !== null && this.sniffHttp(chunk)) return;
    try {
      if (this.decoder) this.decoder.push(chunk);
      else this.onFrame(decodeMessage(chunk));
    } catch (err) {
      this.thrown(err);
    }
  }

  /**
   * Something threw while frames were read or handed on. A ProtocolError is the node's doing;
   * anything else is a bug of ours. Taken for the node's malformed frame, as it was, such a bug
   * was logged at warn as the node's protocol violation (its stack lost), counted in the
   * `protocol` leaves, and before admission refused as `malformed` and charged to the host's
   * failure budget: a node that did nothing wrong could end up rate-limited.
   */
  private thrown(err: unknown): void {
    if (err instanceof ProtocolError) {
      if (this.sink) this.sink.malformed(err);
      else this.fail(refusal('malformed', 0, err.message), err);
    } else if (this.sink) {
      this.sink.failed(err);
    } else {
      // No refusal: the door rethrows it (gatekeeper.ts), and logs it as the switcher's fault.
      const e = err instanceof Error ? err : new Error(String(err));
      this.fault ??= e;
      this.clearTimer();
      if (!this.got) {
        this.got = true;
        this.settle?.reject(e);
      }
      this.early = [];
      if (!this.ended) {
        this.transport.destroy(new ConnectionClosedError('internal error handling a frame', { cause: e }));
      }
    }
  }

  drain(): void {
    // As in data(): a bug of ours writing the client's frames (its scheduler) threw out of the
    // transport's handler, an uncaught exception that ends the process. Not per frame: per drain.
    try {
      this.sink?.drain();
    } catch (err) {
      this.sink?.failed(err);
    }
  }

  close(err?: Error): void {
    if (this.ended) return;
    // A byte stream that ends inside a frame broke the protocol; it did not hang up cleanly.
    let cut: ProtocolError | null = null;
    let bug: Error | null = null;
    if (err === undefined && this.decoder !== null && !this.discarding) {
      try {
        this.decoder.end();
      } catch (e) {
        // Anything but a ProtocolError is a bug of ours, as in data(): taken for the node's cut
        // frame, it was logged as its protocol violation (stack lost) and, before the reply,
        // refused as malformed and charged to its host.
        if (e instanceof ProtocolError) cut = e;
        else bug = e instanceof Error ? e : new Error(String(e));
      }
    }
    this.ended = { err: err ?? cut ?? undefined };
    this.clearTimer();
    const ender = this.ender;
    this.ender = null;
    ender?.();
    // Ended already, so only reported: to the client (sink.failed), or to the door (fault).
    if (bug !== null) this.thrown(bug);
    if (this.sink) {
      if (cut) this.sink.malformed(cut);
      this.sink.closed(err ?? cut ?? undefined);
    } else if (!this.got && cut) {
      this.settle?.reject(refusal('malformed', 0, `${cut.message} (admission)`));
    } else if (!this.got) {
      // A transport that closed on bad input (a text WebSocket message) is malformed, not a hang-up.
      this.settle?.reject(
        err instanceof ProtocolError
          ? refusal('malformed', 0, err.message)
          : refusal('closed', 0, 'connection closed before the admission frame'),
      );
    }
  }

  /** The admitted client takes over: held frames first, then everything that follows. */
  handOff(sink: FrameSink): void {
    this.sink = sink;
    this.release();
    const held = this.early;
    this.early = [];
    this.earlyBytes = 0;
    try {
      for (const f of held) {
        if (this.ended) break;
        sink.frame(f);
      }
    } catch (err) {
      // As in data(): a frame held behind the admission frame is handled as one read later.
      this.thrown(err);
    }
    if (this.ended) sink.closed(this.ended.err);
  }

  /** The switcher refused the connection: stop the deadline and ignore whatever else arrives. */
  discard(): void {
    this.discarding = true;
    this.early = [];
    this.clearTimer();
    this.release();
  }

  /** Admission is over: the first frame is not needed any more (see firstFrame). */
  private release(): void {
    this.firstFrame = null;
    this.settle = null;
  }

  private onFrame(f: Frame): void {
    if (this.sink) {
      this.sink.frame(f);
      return;
    }
    if (!this.got) {
      this.got = true;
      this.clearTimer();
      this.transport.pauseReading();
      this.settle?.resolve(f);
      return;
    }
    this.early.push(f);
    this.earlyBytes += HEADER_SIZE + f.payload.length;
    // Counted in frames too: each held frame costs objects far beyond its bytes (a flood of
    // bare 11-byte headers would otherwise hold ~12,000 of them within the byte bound).
    if (this.early.length > this.maxEarlyFrames) {
      throw new ProtocolError(`more than ${this.maxEarlyFrames} frames sent before the admission reply`);
    }
    if (this.earlyBytes > this.maxEarlyBytes) {
      throw new ProtocolError(`more than ${this.maxEarlyBytes} bytes sent before the admission reply`);
    }
  }

  /**
   * Looks at the first bytes of a byte stream for an HTTP request line or a TLS handshake; true
   * when they are one. A WebSocket client given a switcher's tcp:// port used to wait for its
   * handshake's answer until the admission timeout closed it, then retried for ever (the request
   * line read as a frame header with a 20 KiB payload to come). Now the switcher answers it in
   * HTTP, which the client can read as a refusal for good: the reader stops reading frames, the
   * deadline stops, and the switcher sends the answer (gatekeeper.ts) and closes. A TLS client,
   * which no answer of ours could tell why, is closed at once (TLS_RECORD).
   */
  private sniffHttp(chunk: Uint8Array): boolean {
    let head = this.head!;
    for (let i = 0; i < chunk.length && head.length < SNIFF_BYTES; i++)
      head += String.fromCharCode(chunk[i]!);
    const verdict = sniff(head);
    this.head = verdict === 'more' ? head : null;
    if (verdict !== 'http' && verdict !== 'tls') return false;
    this.got = true;
    this.discarding = true;
    this.clearTimer();
    const method = head.slice(0, head.indexOf(' '));
    this.settle?.reject(
      verdict === 'tls'
        ? refusal(
            'tls',
            0,
            'a TLS handshake on a plain flex TCP port: a tls:// or wss:// client given the tcp:// port',
          )
        : refusal(
            'http',
            0,
            `an HTTP request (${method}) on a flex TCP port: a WebSocket or HTTP client given the wrong port`,
          ),
    );
    return true;
  }

  private fail(r: Refusal, err: Error): void {
    this.clearTimer();
    this.failure ??= r;
    if (!this.got) {
      this.got = true;
      this.settle?.reject(r);
    }
    this.early = [];
    if (!this.ended) this.transport.destroy(err);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}

/**
 * Checks an admission frame (2.6 steps 2-7), then the flexmux rules: the password's domain
 * patterns and the replay cache. Passwords are tried in order, the shared one first.
 */
export async function verifyAdmission(
  frame: Frame,
  policy: AccessPolicy,
  replay: ReplayCache,
  nowNs: bigint,
): Promise<Verified | Refusal> {
  const payload = frame.payload;
  if (payload.length < ENVELOPE_OVERHEAD) {
    return refusal(
      'decrypt',
      -1,
      `admission payload of ${payload.length} bytes is too short for an envelope`,
    );
  }
  let credential: Credential | undefined;
  let request: AdmitRequest | undefined;
  for (const c of policy.credentials) {
    try {
      request = await openRequest(c.password, payload);
      credential = c;
      break;
    } catch (err) {
      if (!(err instanceof AdmissionError)) throw err;
      if (err.reason !== 'decrypt')
        return refusal(err.reason === 'json' ? 'json' : 'decrypt', -1, err.message, { credential: c });
    }
  }
  if (credential === undefined || request === undefined) {
    return refusal('decrypt', -1, 'admission envelope does not open with any password');
  }
  let domain: string;
  try {
    domain = (await verifyRequest(credential.password, request, nowNs)).domain;
  } catch (err) {
    if (!(err instanceof AdmissionError)) throw err;
    const reason =
      (['version', 'clock', 'sum', 'domain'] as const).find((r) => r === err.reason) ?? 'decrypt';
    return refusal(reason, -1, err.message, { credential, domain: clipText(request.domain) });
  }
  if (!credential.allows(domain)) {
    return refusal('forbidden', -1, `password #${credential.index + 1} may not register domain "${domain}"`, {
      credential,
      domain,
    });
  }
  // Only a password holder can make a fresh envelope, so its salt alone stops verbatim replays;
  // the Sum would also refuse two genuine requests stamped in the same millisecond.
  const keys = [`salt:${hex(payload.subarray(0, SALT_SIZE))}`];
  if (!replay.admit(keys, request.timestamp, nowNs)) {
    return refusal('replay', -1, 'admission request was seen before (replay)', { credential, domain });
  }
  return { ok: true, credential, request, domain };
}
