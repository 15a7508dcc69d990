import { describe, expect, it } from 'vitest';
import { ConfigError, Scheduler } from '../../src/index.js';
import type { SchedulerOptions, SchedulerSink } from '../../src/scheduler.js';

/**
 * The exported Scheduler read its options as they came: `new Scheduler(sink, null)` failed with a
 * TypeError ("Cannot read properties of null"), and a quantum of 0, NaN or a string, or a batch
 * limit left out, was taken without a word (a writer that sends nothing, or loops). They are
 * checked as a node's options of the same names are: a ConfigError naming the option.
 */

const sink: SchedulerSink = { framing: 'stream', send: () => true };
const good: SchedulerOptions = { quantum: 1024, maxBatchBytes: 4096, maxControlQueue: 16 };

function configError(make: () => unknown): ConfigError {
  let err: unknown;
  try {
    make();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('new Scheduler(sink, options)', () => {
  it('refuses null options with a ConfigError naming the Scheduler', () => {
    const err = configError(() => new Scheduler(sink, null as never));
    expect(err.message).toBe('Scheduler options must be an object, got null');
  });

  it.each([
    ['quantum', 0, 'option quantum must be an integer in 1..16777216, got 0'],
    ['quantum', Number.NaN, 'option quantum must be an integer in 1..16777216, got NaN'],
    ['quantum', '1024', 'option quantum must be an integer in 1..16777216, got "1024" (a string)'],
    ['quantum', 2 ** 24 + 1, 'option quantum must be an integer in 1..16777216, got 16777217'],
    ['maxBatchBytes', undefined, 'option maxBatchBytes must be an integer in 1..268435456, got undefined'],
    ['maxBatchBytes', 1.5, 'option maxBatchBytes must be an integer in 1..268435456, got 1.5'],
    ['maxControlQueue', 15, 'option maxControlQueue must be an integer in 16..16777216, got 15'],
    [
      'maxControlQueue',
      -Infinity,
      'option maxControlQueue must be an integer in 16..16777216, got -Infinity',
    ],
    ['schedule', null, 'option schedule must be a function, got null'],
    ['clock', 5, 'option clock must be a function, got 5'],
  ])('refuses %s %s, naming it', (name, value, message) => {
    const err = configError(() => new Scheduler(sink, { ...good, [name]: value }));
    expect(err.message).toBe(message);
  });

  it('takes the ranges a node takes, and Infinity as no control bound', () => {
    for (const o of [
      { quantum: 1, maxBatchBytes: 1, maxControlQueue: 16 },
      { quantum: 2 ** 24, maxBatchBytes: 2 ** 28, maxControlQueue: 2 ** 24 },
      { ...good, maxControlQueue: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => new Scheduler(sink, o).close()).not.toThrow();
    }
  });

  it('keeps its default schedule when one is given as undefined', async () => {
    // The defaults used to be spread under the options: { schedule: undefined } replaced the
    // default with undefined and the first frame threw a TypeError.
    const sent: number[] = [];
    const s = new Scheduler(
      { framing: 'message', send: (parts) => sent.push(parts.length) > 0 },
      { ...good, schedule: undefined, clock: undefined },
    );
    s.pushControl(new Uint8Array(11));
    // The flush was queued as a microtask by pushControl, so before this await resumes.
    await Promise.resolve();
    expect(sent).toEqual([1]);
    s.close();
  });
});
