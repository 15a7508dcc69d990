import { ConfigError } from '../errors.js';
import { MAX_BATCH_BYTES, MAX_CONTROL_QUEUE, MAX_QUANTUM, MIN_CONTROL_QUEUE } from '../scheduler-options.js';
import { checkAtLeast, checkInt, checkLogger, checkOptions } from '../util/check.js';
import type { Logger } from '../util/logger.js';
import { MAX_DELAY, now } from '../util/timers.js';
import type { AccessOptions } from './access.js';
import { type IpAssignment, ipAssignments } from './ip-pool.js';

/**
 * Every default of the switcher, in one frozen object (STYLE.md habit 6). Go-derived values cite
 * PROTOCOL.md; the rest are flexmux bounds that Go lacks (12.5).
 */
export const switcherDefaults = Object.freeze({
  /** ms a new connection has to deliver its admission frame (Go: 10 s, 1.7). */
  admissionTimeout: 10_000,
  /** ms the holder of a claimed domain has to answer the liveness ping (Go: 3 s, 6.3). */
  livenessTimeout: 3_000,
  /** Connections allowed in admission at once; more are closed at once. */
  maxPendingAdmissions: 1_024,
  /** Admitted clients at once (the IP pool holds 65 534, 7.3). */
  maxClients: 65_534,
  /** Authentic admissions remembered to refuse a replay inside the 5-minute window (12.1.4). */
  replayCacheSize: 65_536,
  /** Failed admissions a remote host may make in a burst; 0 disables the limit. */
  failedAdmissionBurst: 10,
  /** Failed admissions per second a remote host regains after its burst. */
  failedAdmissionRate: 1,
  /** Remote hosts (IPv6: /64s, host-key.ts) remembered by the rate limiter, oldest forgotten first. */
  rateLimitEntries: 10_000,
  /** Bytes queued for one destination from one source before that source is paused. */
  maxQueuePerSource: 8 * 1024 * 1024,
  /** Bytes queued for one destination from all sources before every new sender is paused. */
  maxQueuePerClient: 64 * 1024 * 1024,
  /** Switcher-made frames (replies, pings) queued for one client before it is dropped as stuck. */
  maxControlQueue: 16_384,
  /**
   * Streams open through the switcher with one client at an end. Each is tracked, so that the
   * other end is told when the client leaves; a dial beyond the limit is refused.
   */
  maxStreamsPerClient: 65_536,
  /** Bytes one source may send per round-robin turn at a destination. */
  quantum: 64 * 1024,
  /**
   * Largest batch handed to a transport in one write. Not a node's 1 MiB: a switcher's writers
   * serve many clients from one event loop, and 1 MiB here was no better in relay A/Bs
   * (docs/performance.md, "Larger batches per write").
   */
  maxBatchBytes: 256 * 1024,
  /** ms without any frame from a client before it is closed; 0 disables (Go has none, 6.4). */
  idleTimeout: 0,
  /**
   * ms between the switcher's own pings of each client (for RTT, and to find half-dead clients:
   * two unanswered pings in a row, with no frame from it meanwhile, close it); 0 disables. Go
   * switchers never ping (6.4).
   */
  pingInterval: 0,
  /** ms `close()` waits for clients to finish before destroying them. */
  closeTimeout: 5_000,
  /**
   * ms a client may keep other clients paused (it is not taking what they send it, and their
   * queues towards it are full) without taking a single byte, before it is closed as stalled;
   * 0 disables. Go switchers block instead, and so freeze the senders (12).
   */
  stallTimeout: 10_000,
  /**
   * How nodes get their virtual IP (ip-pool.ts): `by-domain` gives a domain the same IP across
   * reconnects and switcher restarts; `sequential` is Go's order (7.3).
   */
  ipAssignment: 'by-domain' as IpAssignment,
});

/**
 * The ranges validateSwitcherOptions allows for the counts and sizes that `flexmux switcher`'s
 * flags set: the CLI checks them as it parses the flag, so that a value out of range is named by
 * the flag, variable or config-file key that gave it, not by this option's name.
 */
export const switcherRanges = Object.freeze({
  maxClients: [1, 65_534],
  maxPendingAdmissions: [1, 2 ** 24],
  maxStreamsPerClient: [1, 2 ** 24],
  failedAdmissionBurst: [0, 2 ** 24],
  maxQueuePerSource: [1, 2 ** 40],
  maxQueuePerClient: [1, 2 ** 40],
} as const satisfies Record<string, readonly [number, number]>);

/**
 * Options of `new Switcher(options)` (docs/manual.md, "Switcher options"): times in ms, sizes in bytes,
 * defaults those of `switcherDefaults`. An invalid one throws a ConfigError naming it.
 */
export interface SwitcherOptions {
  /** The shared password (may be empty, as in Go). */
  password: string;
  /** Extra passwords bound to domain patterns, and dial rules. Default: Go's open policy. */
  access?: AccessOptions;
  /** ms a new connection has to deliver its admission frame. Default 10000. */
  admissionTimeout?: number;
  /** ms the holder of a claimed domain has to answer the liveness ping. Default 3000. */
  livenessTimeout?: number;
  /**
   * Connections in admission at once, a refused one until it has closed; the TLS and WebSocket listeners also
   * hold at most as many in their handshake or upgrade. Default 1024.
   */
  maxPendingAdmissions?: number;
  /** Admitted clients at once. Default 65534. */
  maxClients?: number;
  /** Admissions remembered to refuse replays. Default 65536. */
  replayCacheSize?: number;
  /** Failed admissions per remote host (IPv6: per /64) in a burst; 0: no limit. Default 10. */
  failedAdmissionBurst?: number;
  /** Failed admissions per second regained after the burst; 0: none are. Default 1. */
  failedAdmissionRate?: number;
  /** Remote hosts (IPv6: /64 prefixes) remembered by the rate limiter. Default 10000. */
  rateLimitEntries?: number;
  /**
   * Bytes queued for one destination from one source before that source is paused (each frame counts 256
   * bytes more). Default 8 MiB.
   */
  maxQueuePerSource?: number;
  /**
   * Bytes queued for one destination in all before senders are paused (counted the same way). Default 64 MiB.
   */
  maxQueuePerClient?: number;
  /** Switcher-made frames queued for one client before it is dropped. Default 16384. */
  maxControlQueue?: number;
  /** Streams with one client at an end; dials beyond are refused with `too many streams` (default 65,536). */
  maxStreamsPerClient?: number;
  /** Bytes per source per turn at a destination. Default 65536. */
  quantum?: number;
  /**
   * Bytes gathered into one write to a transport before it goes, passed by less than one frame. Default
   * 262144.
   */
  maxBatchBytes?: number;
  /**
   * ms without a frame before a client is closed; time its reading is paused by backpressure does not count.
   * Default 0: never.
   */
  idleTimeout?: number;
  /** ms a client may hold back the clients sending to it without taking a byte (default 10 s; 0: never). */
  stallTimeout?: number;
  /**
   * ms between the switcher's pings of each client, for RTT; two unanswered, with no frame from the client
   * meanwhile, close it. Default 0: off.
   */
  pingInterval?: number;
  /** ms `close()` waits for clients before destroying them. Default 5000. */
  closeTimeout?: number;
  /** `by-domain` (default): a domain keeps its IP across reconnects and restarts; `sequential`: Go's order. */
  ipAssignment?: IpAssignment;
  /** Wall clock in Unix nanoseconds (admission timestamps, replay window). */
  clock?: () => bigint;
  /**
   * Monotonic clock in milliseconds (the failed-admission rate limit, which a wall-clock step
   * must not refill or starve). Default: `performance.now()`.
   */
  monotonicClock?: () => number;
  /** Where the switcher logs (manual section 5); default none. */
  logger?: Logger;
}

/** Switcher options with every default applied, as `switcher.options` holds them. */
export type ResolvedSwitcherOptions = Required<Omit<SwitcherOptions, 'logger' | 'access'>> & {
  /** Where the switcher logs, if anywhere. */
  logger: Logger | undefined;
  /** The extra passwords and dial rules (Go's open policy when none were given). */
  access: AccessOptions;
};

const int = (name: string, v: unknown, min: number, max: number): number =>
  checkInt(`option ${name}`, v, min, max);

const num = (name: string, v: unknown, min: number): number => checkAtLeast(`option ${name}`, v, min);

function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Applies defaults and checks every option; throws ConfigError naming the bad option. Options
 * that are no object are refused as every other call's are (checkOptions).
 */
export function validateSwitcherOptions(o: SwitcherOptions): ResolvedSwitcherOptions {
  checkOptions('switcher', o);
  if (typeof o.password !== 'string') throw new ConfigError('option password must be a string');
  if (o.clock !== undefined && typeof o.clock !== 'function') {
    throw new ConfigError('option clock must be a function returning Unix nanoseconds as a bigint');
  }
  if (o.monotonicClock !== undefined && typeof o.monotonicClock !== 'function') {
    throw new ConfigError('option monotonicClock must be a function returning milliseconds');
  }
  const d = switcherDefaults;
  const r = switcherRanges;
  const ipAssignment = o.ipAssignment ?? d.ipAssignment;
  if (!ipAssignments.includes(ipAssignment)) {
    throw new ConfigError(`option ipAssignment must be one of ${ipAssignments.join(', ')}`);
  }
  const perSource = int(
    'maxQueuePerSource',
    o.maxQueuePerSource ?? d.maxQueuePerSource,
    ...r.maxQueuePerSource,
  );
  const perClient = int(
    'maxQueuePerClient',
    o.maxQueuePerClient ?? d.maxQueuePerClient,
    ...r.maxQueuePerClient,
  );
  return {
    password: o.password,
    access: o.access ?? {},
    admissionTimeout: int('admissionTimeout', o.admissionTimeout ?? d.admissionTimeout, 1, MAX_DELAY),
    livenessTimeout: int('livenessTimeout', o.livenessTimeout ?? d.livenessTimeout, 1, MAX_DELAY),
    maxPendingAdmissions: int(
      'maxPendingAdmissions',
      o.maxPendingAdmissions ?? d.maxPendingAdmissions,
      ...r.maxPendingAdmissions,
    ),
    maxClients: int('maxClients', o.maxClients ?? d.maxClients, ...r.maxClients),
    replayCacheSize: int('replayCacheSize', o.replayCacheSize ?? d.replayCacheSize, 0, 2 ** 24),
    failedAdmissionBurst: int(
      'failedAdmissionBurst',
      o.failedAdmissionBurst ?? d.failedAdmissionBurst,
      ...r.failedAdmissionBurst,
    ),
    failedAdmissionRate: num('failedAdmissionRate', o.failedAdmissionRate ?? d.failedAdmissionRate, 0),
    rateLimitEntries: int('rateLimitEntries', o.rateLimitEntries ?? d.rateLimitEntries, 1, 2 ** 24),
    maxQueuePerSource: perSource,
    maxQueuePerClient: perClient,
    maxControlQueue: int(
      'maxControlQueue',
      o.maxControlQueue ?? d.maxControlQueue,
      MIN_CONTROL_QUEUE,
      MAX_CONTROL_QUEUE,
    ),
    maxStreamsPerClient: int(
      'maxStreamsPerClient',
      o.maxStreamsPerClient ?? d.maxStreamsPerClient,
      ...r.maxStreamsPerClient,
    ),
    quantum: int('quantum', o.quantum ?? d.quantum, 1, MAX_QUANTUM),
    maxBatchBytes: int('maxBatchBytes', o.maxBatchBytes ?? d.maxBatchBytes, 1, MAX_BATCH_BYTES),
    idleTimeout: int('idleTimeout', o.idleTimeout ?? d.idleTimeout, 0, MAX_DELAY),
    pingInterval: int('pingInterval', o.pingInterval ?? d.pingInterval, 0, MAX_DELAY),
    closeTimeout: int('closeTimeout', o.closeTimeout ?? d.closeTimeout, 0, MAX_DELAY),
    stallTimeout: int('stallTimeout', o.stallTimeout ?? d.stallTimeout, 0, MAX_DELAY),
    ipAssignment,
    clock: o.clock ?? wallClockNs,
    monotonicClock: o.monotonicClock ?? now,
    logger: checkLogger('option logger', o.logger),
  };
}
