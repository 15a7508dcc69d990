import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { AbortError, ConfigError, TimeoutError } from '../../../src/errors.js';
import { guardDial } from '../../../src/transport/dial.js';
import type { BrowserWsDialOptions } from '../../../src/transport/ws-browser.js';

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

  // Found by the transport audit: tls.connect, net.connect and the ws constructor throw at once for
  // options they refuse (a bad minVersion, a key that does not parse, a URL with a fragment). The
  // dial rejected with that raw error and left its deadline timer and abort listener behind, so a
  // reconnecting session piled up one of each per attempt and the process stayed up until they ran.
  it('turns an attempt that throws as it starts into ConfigError and leaves no timer or listener', async () => {
    vi.useFakeTimers();
    try {
      const ac = new AbortController();
      const bad = new TypeError('"bogus" is not a valid minimum TLS protocol version');
      const err = await guardDial('TLS dial to h:1', { signal: ac.signal, timeout: 10_000 }, () => {
        throw bad;
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/TLS dial to h:1.*bogus/);
      expect((err as Error).cause).toBe(bad);
      expect(vi.getTimerCount()).toBe(0);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('listens once to a signal shared by many dials in flight, and lets go of it as they settle', async () => {
    // A listener each made Node.js warn 'Possible EventTarget memory leak detected. 11 abort
    // listeners added to [AbortSignal]' for a program passing its shutdown signal to every dial.
    const ac = new AbortController();
    let cancelled = 0;
    const dials = Array.from({ length: 20 }, () =>
      guardDial('x', { signal: ac.signal }, () => () => {
        cancelled++;
      }),
    );
    const done = guardDial<number>('y', { signal: ac.signal }, (attempt) => {
      queueMicrotask(() => attempt.resolve(1));
      return () => {};
    });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    expect(await done).toBe(1);
    ac.abort(new Error('stop'));
    for (const r of await Promise.allSettled(dials)) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AbortError);
    }
    expect(cancelled).toBe(20);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('throws ConfigError for a bad timeout at once', () => {
    expect(() => guardDial('x', { timeout: Number.NaN }, () => () => {})).toThrow(ConfigError);
    // 0 ms is no time at all: every attempt would time out before it began.
    expect(() => guardDial('x', { timeout: 0 }, () => () => {})).toThrow(ConfigError);
  });
});

describe('transport timer options beyond what a timer can wait', () => {
  // Node runs a delay of 2^31 ms or more after 1 ms: a dial would time out at once (and a session
  // retry that for ever), a graceful close would destroy at once.
  const TOO_LONG = 2 ** 31;

  it('refuses a dial timeout a timer cannot wait with ConfigError, instead of timing out at once', async () => {
    // Refused as the options are checked, before any attempt starts: no wait to race against.
    let started = false;
    const attempt = (): Promise<unknown> =>
      guardDial('x', { timeout: TOO_LONG }, () => {
        started = true;
        return () => {};
      });
    expect(attempt).toThrow(ConfigError);
    expect(started).toBe(false);
  });

  it('refuses a closeTimeout a timer cannot wait, for every transport', async () => {
    const { memoryPair } = await import('../../../src/transport/memory.js');
    const { dialTcp } = await import('../../../src/transport/tcp.js');
    const { browserWsTransport } = await import('../../../src/transport/ws-browser.js');
    expect(() => memoryPair({ closeTimeout: TOO_LONG })).toThrow(ConfigError);
    await expect(dialTcp('127.0.0.1', 1, { closeTimeout: TOO_LONG })).rejects.toThrow(ConfigError);
    const ws = { readyState: 1, url: 'ws://x/', addEventListener() {} } as unknown as WebSocket;
    expect(() => browserWsTransport(ws, { closeTimeout: TOO_LONG })).toThrow(ConfigError);
    expect(() => browserWsTransport(ws, { pollInterval: TOO_LONG })).toThrow(ConfigError);
  });
});

describe('a dial signal that is not an AbortSignal', () => {
  // Documented (docs/errors.md) as a ConfigError, with null counting as none, as for connect():
  // the transport dialers failed with a TypeError from inside guardDial instead, and their
  // options' type took no null though null worked.
  it('is a ConfigError for every transport dialer, before any attempt starts', async () => {
    const { dialTcp } = await import('../../../src/transport/tcp.js');
    const { dialTls } = await import('../../../src/transport/tls.js');
    const { dialWs } = await import('../../../src/transport/ws.js');
    const { dialBrowserWs } = await import('../../../src/transport/ws-browser.js');
    let constructed = 0;
    class NoWebSocket {
      constructor() {
        constructed++;
      }
    }
    const bad = 'signal' as unknown as AbortSignal;
    const message = 'option signal must be an AbortSignal, got "signal" (a string)';
    for (const dial of [
      () => dialTcp('127.0.0.1', 1, { signal: bad }),
      () => dialTls('127.0.0.1', 1, { signal: bad }),
      () => dialWs('ws://127.0.0.1:1/', { signal: bad }),
      () => dialBrowserWs('ws://127.0.0.1:1/', { signal: bad, WebSocket: NoWebSocket as never }),
      () =>
        dialBrowserWs('ws://127.0.0.1:1/', { signal: {} as AbortSignal, WebSocket: NoWebSocket as never }),
    ]) {
      const err = await dial().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^option signal must be an AbortSignal, got /);
    }
    expect(((await dialTcp('127.0.0.1', 1, { signal: bad }).catch((e: unknown) => e)) as Error).message).toBe(
      message,
    );
    expect(constructed).toBe(0);
  });

  it('counts as none when null, as the options type says', async () => {
    let constructed = 0;
    const { dialBrowserWs } = await import('../../../src/transport/ws-browser.js');
    class FailingWebSocket {
      constructor() {
        constructed++;
        throw new Error('no network here');
      }
    }
    // Typed without a cast: `ws.signal: null` is what the browser connect() documents as none.
    const options: BrowserWsDialOptions = { signal: null, WebSocket: FailingWebSocket as never };
    const err = await dialBrowserWs('ws://127.0.0.1:1/', options).catch((e: unknown) => e);
    // The dial was attempted (its WebSocket failed as it was made), not refused for its signal.
    expect(constructed).toBe(1);
    expect((err as Error).message).not.toMatch(/signal/);
    expect(
      await guardDial<number>('x', { signal: null }, (attempt) => {
        attempt.resolve(1);
        return () => {};
      }),
    ).toBe(1);
  });
});
