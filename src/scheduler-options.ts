import { ConfigError } from './errors.js';
import { checkInt, checkOptions, shown } from './util/check.js';

/**
 * The ranges of the scheduler's numeric options. The node's and the switcher's options of the
 * same names are checked against them too, so that what one accepts the other does.
 */
export const MAX_QUANTUM = 2 ** 24;
export const MAX_BATCH_BYTES = 2 ** 28;
/** Fewer control frames than this and one burst of ACKs would declare a reading peer stuck. */
export const MIN_CONTROL_QUEUE = 16;
export const MAX_CONTROL_QUEUE = 2 ** 24;

/** The scheduler's options as it reads them (SchedulerOptions in scheduler.ts says what each is). */
export interface CheckedSchedulerOptions {
  quantum: number;
  maxBatchBytes: number;
  maxControlQueue: number;
  schedule: ((fn: () => void) => void) | undefined;
  clock: (() => number) | undefined;
}

/**
 * `options` of `new Scheduler(sink, options)` checked, a ConfigError naming the bad one. They
 * have no defaults (the node and the switcher pass their own) and were read as they came: null
 * options failed with a TypeError, and a quantum of 0, NaN or a string, or a batch limit left
 * out, made a writer that sent nothing or looped without end, with no error at all.
 * maxControlQueue may be Infinity: no bound, for a sink that takes every frame at once (a node's
 * loopback to itself).
 */
export function checkSchedulerOptions(options: {
  quantum?: unknown;
  maxBatchBytes?: unknown;
  maxControlQueue?: unknown;
  schedule?: unknown;
  clock?: unknown;
}): CheckedSchedulerOptions {
  checkOptions('Scheduler', options);
  const o = options;
  return {
    quantum: checkInt('option quantum', o.quantum, 1, MAX_QUANTUM),
    maxBatchBytes: checkInt('option maxBatchBytes', o.maxBatchBytes, 1, MAX_BATCH_BYTES),
    maxControlQueue:
      o.maxControlQueue === Number.POSITIVE_INFINITY
        ? o.maxControlQueue
        : checkInt('option maxControlQueue', o.maxControlQueue, MIN_CONTROL_QUEUE, MAX_CONTROL_QUEUE),
    schedule: fn('schedule', o.schedule) as CheckedSchedulerOptions['schedule'],
    clock: fn('clock', o.clock) as CheckedSchedulerOptions['clock'],
  };
}

/** A function, or undefined for the default; called later, anything else was a TypeError then. */
function fn(name: string, v: unknown): unknown {
  if (v !== undefined && typeof v !== 'function') {
    throw new ConfigError(`option ${name} must be a function, got ${shown(v)}`);
  }
  return v;
}
