import { describe, expect, it } from 'vitest';
import { AbortError, ConfigError, TimeoutError } from '../../../src/errors.js';
import { guardDial } from '../../../src/transport/dial.js';

describe('guardDial', () => {
  it('settles with the attempt when it finishes first', async () => {
    let cancelled = false;
    const v = await guardDial<number>('x', { timeout: 1000 }, (attempt) => {
      queueMicrotask(() => attempt.resolve(7));
      return () => {
        cancelled = true;
      };
    });
    expect(v).toBe(7);
    expect(cancelled).toBe(false);
  });

  it('cancels the attempt on timeout and tells a late resolve to dispose of its value', async () => {
    let late: ((v: number) => boolean) | undefined;
    let cancelled = false;
    const p = guardDial<number>('slow thing', { timeout: 10 }, (attempt) => {
      late = attempt.resolve;
      return () => {
        cancelled = true;
      };
    });
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    await expect(p).rejects.toThrow(/slow thing timed out after 10 ms/);
    expect(cancelled).toBe(true);
    expect(late?.(1)).toBe(false);
  });

  it('rejects with AbortError carrying the reason, before or during the attempt', async () => {
    const reason = new Error('user');
    let started = false;
    await expect(
      guardDial('x', { signal: AbortSignal.abort(reason) }, () => {
        started = true;
        return () => {};
      }),
    ).rejects.toMatchObject({ cause: reason });
    expect(started).toBe(false);
    const ac = new AbortController();
    let cancelled = false;
    const p = guardDial('x', { signal: ac.signal }, () => () => {
      cancelled = true;
    });
    ac.abort(reason);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).cause).toBe(reason);
    expect(cancelled).toBe(true);
  });

  it('passes the attempt error through and ignores a later abort', async () => {
    const ac = new AbortController();
    const failure = new Error('refused');
    const p = guardDial('x', { signal: ac.signal }, (attempt) => {
      attempt.reject(failure);
      return () => {
        throw new Error('must not cancel a settled attempt');
      };
    });
    await expect(p).rejects.toBe(failure);
    ac.abort();
  });

  it('throws ConfigError for a bad timeout at once', () => {
    expect(() => guardDial('x', { timeout: Number.NaN }, () => () => {})).toThrow(ConfigError);
    // 0 ms is no time at all: every attempt would time out before it began.
    expect(() => guardDial('x', { timeout: 0 }, () => () => {})).toThrow(ConfigError);
  });
});
