import { ConfigError } from './errors.js';
import { MAX_BATCH_BYTES, MAX_CONTROL_QUEUE, MAX_QUANTUM, MIN_CONTROL_QUEUE } from './scheduler-options.js';
import { checkBool, checkInt, checkLogger, checkOptions, checkType } from './util/check.js';
import type { Logger } from './util/logger.js';
import { MAX_DELAY } from './util/timers.js';
import { ALL_CAPS, MAX_PAYLOAD } from './wire/constants.js';

/**
 * Every default of flexmux, in one frozen object. docs/manual.md quotes these values and a test
 * checks that the two agree. Go-derived values cite PROTOCOL.md Appendix A.
 */
export const defaults = Object.freeze({
  /** Receive window per stream, bytes; also the send credit (Go default 2 MiB). */
  window: 2 * 1024 * 1024,
  /** Largest data payload sent to a plain v3 (Go) peer; Go writes 16 KiB chunks. */
  chunkSize: 16 * 1024,
  /** Largest data payload sent to a flexmux peer (negotiated through the capability byte). */
  extendedChunkSize: MAX_PAYLOAD,
  /** Extensions offered when opening or accepting streams (PROTOCOL.md 14.1). */
  caps: ALL_CAPS,
  /** ms a dial waits for the OpenStream ACK. */
  dialTimeout: 15_000,
  /** Concurrent streams per node, accepted and dialled. */
  maxStreams: 16_384,
  /** Dials waiting for their OpenStream ACK. */
  maxPendingDials: 4_096,
  /** Accepted streams waiting for accept(), per listener (Go: 32). */
  backlog: 32,
  /** Inbound bytes buffered across all streams of a connection before new opens are refused. */
  maxReceiveBuffer: 256 * 1024 * 1024,
  /** Bytes queued per stream before write() returns false. */
  streamHighWaterMark: 256 * 1024,
  /**
   * False: a write of 16 KiB or more is sent from the writer's own buffer and its callback comes
   * as soon as the stream takes it (zero-copy; the buffer must not change after the write). True:
   * its callback means the buffer may be reused: the write is copied into the connection's slabs
   * (`writeBuffer`), or, with those full, its callback waits until the bytes have been sent.
   * Opt-in: it cost up to a fifth of one-stream throughput (docs/performance.md).
   */
  reuseWrittenBuffers: false,
  /**
   * With `reuseWrittenBuffers` only: bytes per connection that writes of 16 KiB or more are copied
   * into (slabs of up to 256 KiB, allocated at the first such write, reused, dropped after a
   * second without one). 0: no copies, every large write's callback waits for its bytes to leave.
   */
  writeBuffer: 2 * 1024 * 1024,
  /** Write-idle time before a heartbeat ping; 0 disables (Go: 15 s). */
  heartbeatInterval: 15_000,
  /** How long a heartbeat ping may take before the connection is declared dead (Go: 2 s). */
  heartbeatTimeout: 2_000,
  /** How long an active close waits for CloseStream ACK once it has left this end's queue (Go: 2 s). */
  closeAckTimeout: 2_000,
  /**
   * How long `end()` may wait without credit from the peer (no DATA_ACK) to send what was written
   * before the stream is reset with a TimeoutError; each ACK restarts the wait, and time while
   * this end's own connection is backed up does not count. Also how long a stream waits for bytes
   * its peer's FIN counts that have not come, while its connection receives other frames, before
   * it fails with DataLostError (a relay lost them). 0 disables both.
   */
  endTimeout: 30_000,
  /** How long a closed stream's address absorbs late frames (Go: 2 s). */
  retention: 2_000,
  /** ms `ping()` waits for its answer. */
  pingTimeout: 10_000,
  /**
   * Bytes a stream may have on their way (sent, neither acknowledged nor known to have reached the
   * peer) while another stream of the connection sends short messages (PROMPT_CREDIT peers only):
   * keeps the queue in socket buffers ahead of those messages short. 0 disables.
   */
  sharedInflight: 256 * 1024,
  /** Bytes of data one stream may send per scheduler turn (deficit round robin quantum). */
  quantum: 64 * 1024,
  /**
   * Largest batch handed to the transport in one write. 1 MiB rather than 256 KiB: fewer, larger
   * writes cost the kernel less per byte on a busy connection (64 streams in the shared harness:
   * 1,786 against 1,637 MB/s, 7 of 9 runs faster; docs/performance.md), and a batch of large
   * payloads is views, not a copy. Control frames still lead every batch.
   */
  maxBatchBytes: 1024 * 1024,
  /** Control frames (ACKs, pings, opens) left waiting, the transport full, before the connection is declared stuck. */
  maxControlQueue: 65_536,
  /**
   * Between flexmux nodes (directly, or through a flexmux switcher), dials after the first resolve
   * without waiting for the OpenStream ACK, so a request goes out with its open (one round trip
   * less per stream). A refused open then fails the stream instead of the dial. Off by default.
   */
  earlyData: false,
});

/**
 * The defaults of a session's own options (SessionOptions, on top of a node's `defaults`), in one
 * frozen object: docs/manual.md quotes them and a test checks that the two agree.
 */
export const sessionDefaults = Object.freeze({
  /** Reconnect after the connection drops. */
  reconnect: true,
  /** First back-off delay after a failed attempt, ms (Go: 1 s). */
  backoffInitial: 1_000,
  /** Longest back-off delay, ms (Go: 30 s). */
  backoffMax: 30_000,
  /** Random spread of each back-off delay, 0..1. */
  backoffJitter: 0.2,
  /**
   * Longest random wait, ms, before reconnecting after a connection that worked is lost (Go:
   * none); backoffInitial or backoffMax instead when shorter. 500: a thousand nodes reconnecting
   * after a switcher restart arrive at about two a millisecond instead of all at once (which filled
   * the switcher's default maxPendingAdmissions of 1,024 to 98 %, and past it nodes are turned
   * away and wait backoffInitial), while a single node is back within half a second, a quarter of
   * one on average.
   */
  reconnectSpread: 500,
  /**
   * Longest random wait, ms, before the first attempt. 0: at once, as a single node wants (the
   * first connection's latency is the one a user waits on). A fleet that starts all at once sets
   * it: those of its nodes the switcher turns away (past maxPendingAdmissions) back off with
   * jitter anyway, but only after a failed attempt each.
   */
  startSpread: 0,
  /** Dials and pings made while disconnected fail at once instead of waiting for the connection. */
  waitForReady: false,
  /** Admission timeout, ms (Go: 10 s). */
  admissionTimeout: 10_000,
});

/**
 * Options of a node (`new Node(transport, options)`, `new BaseNode()`), also taken by `connect()` and a
 * session: docs/manual.md, section 6, "Node options". Every size is in bytes and every time in ms; defaults
 * are those of `defaults`. A value out of range throws a ConfigError naming the option.
 */
export interface NodeOptions {
  /** This node's domain; pings for it are answered. Default '' (none). */
  domain?: string;
  /** This node's virtual IP (assigned by a switcher at admission; 0 on a direct link). */
  ip?: number;
  /** Receive window per stream offered at open, bytes. Default 2 MiB (2097152). */
  window?: number;
  /** Largest data payload sent to a plain v3 (Go) peer, bytes. Default 16384. */
  chunkSize?: number;
  /** Largest data payload sent to a flexmux peer, bytes. Default 65535. */
  extendedChunkSize?: number;
  /**
   * Extensions offered, a bit set: 1 half-close, 2 reset, 4 release on FIN (needs 1), 8 prompt credit, 16
   * early data (used as a dialer only with `earlyData`). Default 31. 32 is set only by switchers; it and the
   * reserved bits 64 and 128 are never sent.
   */
  caps?: number;
  /** ms a dial waits for the OpenStream ACK before it fails with a DialTimeoutError. Default 15000. */
  dialTimeout?: number;
  /**
   * Concurrent streams per node, dials waiting for their ACK included (a dial to the node itself takes two).
   * Default 16384.
   */
  maxStreams?: number;
  /** Dials waiting for their OpenStream ACK. Default 4096. */
  maxPendingDials?: number;
  /** Accepted streams waiting for `accept()` per listener. Default 32. */
  backlog?: number;
  /**
   * Inbound bytes buffered by all streams (received, not yet read); once it is full, new opens are refused
   * (`too many streams`) and data beyond it resets its stream (code 2). Default 256 MiB.
   */
  maxReceiveBuffer?: number;
  /** Unsent bytes a stream takes before writes wait. Default 256 KiB (262144). */
  streamHighWaterMark?: number;
  /**
   * True: a write's callback (and a Web Streams write's promise) means its buffer may be filled
   * again, also for writes of 16 KiB or more, at a cost in throughput. Default false: those are
   * sent zero-copy and must not change after the write (docs/manual.md, "Reusing a written buffer").
   */
  reuseWrittenBuffers?: boolean;
  /**
   * With `reuseWrittenBuffers: true` only (a ConfigError otherwise): bytes per connection that
   * writes of 16 KiB or more are copied into; a write that finds them full waits for its bytes to
   * be sent instead. 0: no copies. Default 2 MiB (2097152).
   */
  writeBuffer?: number;
  /** ms without writes, or without anything received, before a keep-alive ping; 0 disables. Default 15000. */
  heartbeatInterval?: number;
  /**
   * ms the keep-alive ping may take before the connection is closed (ConnectionClosedError; a session then
   * reconnects). Default 2000.
   */
  heartbeatTimeout?: number;
  /**
   * ms an active close waits for the peer's close-ACK, counted once the close has left this end's queue.
   * Default 2000.
   */
  closeAckTimeout?: number;
  /**
   * ms `end()` may wait for the peer's credit with written bytes still unsent (each DATA_ACK
   * restarts the wait; not while this end's connection is backed up); then the stream is reset
   * (TimeoutError, reset code 5). Also how long a stream waits for bytes its peer's FIN counts that
   * have not come, while the connection receives other frames; then it fails (DataLostError: a
   * relay lost them). 0 disables both. Default 30000.
   */
  endTimeout?: number;
  /** ms a closed stream's address absorbs late frames. Default 2000. */
  retention?: number;
  /** ms `ping()` waits for its answer before it fails with a TimeoutError. Default 10000. */
  pingTimeout?: number;
  /**
   * Bytes a stream keeps on their way (sent, not yet known to have arrived) while another stream of the
   * connection sends short messages (prompt-credit peers only); 0 disables, else at least 65536. Default
   * 262144.
   */
  sharedInflight?: number;
  /** Bytes of data per stream per scheduler turn (deficit round robin). Default 65536. */
  quantum?: number;
  /**
   * Bytes gathered into one write to the transport before it goes; frames are never split, so a write can
   * pass it by less than one frame. Default 1 MiB.
   */
  maxBatchBytes?: number;
  /** Control frames (ACKs, pings, opens) queued before the connection is declared stuck. Default 65536. */
  maxControlQueue?: number;
  /**
   * Between flexmux nodes (directly, or through a flexmux switcher), let dials after the first
   * resolve at once and send their data with the open. A refused open then fails the stream
   * (`DialRefusedError` as its 'error') instead of rejecting the dial. Default false; see
   * docs/manual.md, section 3.
   */
  earlyData?: boolean;
  /** Where the node logs (manual section 5); default none. */
  logger?: Logger;
}

/** The largest listen backlog, for the node option and for each listen() call. */
export const MAX_BACKLOG = 1 << 20;

/**
 * Node options with every default applied, as `validateNodeOptions()` returns them and `node.options` holds them.
 */
export type ResolvedNodeOptions = Required<Omit<NodeOptions, 'logger'>> & {
  /** Where the node logs, if anywhere. */
  logger: Logger | undefined;
};

const int = (name: string, v: unknown, min: number, max: number): number =>
  checkInt(`option ${name}`, v, min, max);

/**
 * The integer options, in the order they are checked (the first invalid one is refused): name,
 * least and greatest value. sharedInflight has a rule of its own besides (sharedInflight()).
 * writeBuffer, checked with reuseWrittenBuffers (writeBuffers()), comes before heartbeatInterval.
 */
const INT_OPTIONS: readonly (readonly [
  (keyof NodeOptions & keyof typeof defaults) | 'ip',
  number,
  number,
])[] = [
  ['ip', 0, 0xfffe],
  ['window', 1, 0x7fffffff],
  ['chunkSize', 1, MAX_PAYLOAD],
  ['extendedChunkSize', 1, MAX_PAYLOAD],
  ['caps', 0, 255],
  ['dialTimeout', 1, MAX_DELAY],
  ['maxStreams', 1, 1 << 20],
  ['maxPendingDials', 1, 64_536],
  ['backlog', 0, MAX_BACKLOG],
  ['maxReceiveBuffer', 1, 2 ** 53 - 1],
  ['streamHighWaterMark', 1, 2 ** 31],
  ['heartbeatInterval', 0, MAX_DELAY],
  ['heartbeatTimeout', 1, MAX_DELAY],
  ['closeAckTimeout', 1, MAX_DELAY],
  ['endTimeout', 0, MAX_DELAY],
  ['retention', 0, MAX_DELAY],
  ['pingTimeout', 1, MAX_DELAY],
  ['sharedInflight', 0, 0x7fffffff],
  ['quantum', 1, MAX_QUANTUM],
  ['maxBatchBytes', 1, MAX_BATCH_BYTES],
  ['maxControlQueue', MIN_CONTROL_QUEUE, MAX_CONTROL_QUEUE],
];

/**
 * Applies defaults and checks every option; throws ConfigError naming the bad option. Options of
 * null (`new Node(transport, null)`) are no object, a ConfigError as well: read as they were,
 * they failed with a TypeError.
 */
export function validateNodeOptions(o: NodeOptions = {}): ResolvedNodeOptions {
  checkOptions('node', o);
  const d = defaults;
  // Refused as a dial's is (wire/open.ts): an OpenStream domain ends at its first NUL, so no peer
  // could name this one, and its streams' addresses would show a name no dial can reach.
  const domain = checkType('option domain', o.domain ?? '', 'string');
  if (domain.includes('\u0000')) throw new ConfigError('option domain cannot contain NUL');
  const out: Record<string, unknown> = { domain };
  for (const [name, min, max] of INT_OPTIONS) {
    // writeBuffer with reuseWrittenBuffers, in the order the fields have always been checked.
    if (name === 'heartbeatInterval') Object.assign(out, writeBuffers(o.reuseWrittenBuffers, o.writeBuffer));
    // (ip alone has no default: 0, a direct link's.)
    const n = int(name, o[name] ?? d[name as keyof typeof d] ?? 0, min, max);
    out[name] = name === 'sharedInflight' ? sharedInflight(n) : n;
  }
  // Bits outside ALL_CAPS are reserved or a switcher's (EARLY_ROUTED): senders set them to 0
  // (PROTOCOL.md 14.1), so an option of 0xff offers what is defined and nothing more.
  out.caps = (out.caps as number) & ALL_CAPS;
  out.earlyData = checkBool('option earlyData', o.earlyData ?? d.earlyData);
  out.logger = checkLogger('option logger', o.logger);
  return out as ResolvedNodeOptions;
}

/**
 * A budget without the mode would be a silent no-op (the writer believing its buffers safe to
 * reuse): refused, naming both options. The default budget is let through: resolved options
 * (a node's `options`) carry it, and giving them to another node, or to validateNodeOptions
 * again, must work as it did before the option existed.
 */
function writeBuffers(
  reuse: unknown,
  budget: unknown,
): { reuseWrittenBuffers: boolean; writeBuffer: number } {
  const on = checkBool('option reuseWrittenBuffers', reuse ?? defaults.reuseWrittenBuffers);
  if (!on && budget !== undefined && budget !== defaults.writeBuffer) {
    throw new ConfigError('option writeBuffer applies only with reuseWrittenBuffers: true');
  }
  return {
    reuseWrittenBuffers: on,
    writeBuffer: int('writeBuffer', budget ?? defaults.writeBuffer, 0, 2 ** 31),
  };
}

/** 0 (off) or at least one largest frame: less would cut every frame short. */
function sharedInflight(n: number): number {
  if (n !== 0 && n < MIN_SHARED_INFLIGHT) {
    throw new ConfigError(`option sharedInflight must be 0 or at least ${MIN_SHARED_INFLIGHT}, got ${n}`);
  }
  return n;
}

const MIN_SHARED_INFLIGHT = 64 * 1024;
