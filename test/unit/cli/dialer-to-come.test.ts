import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dialerToCome } from '../../../src/cli/dialer-to-come.js';
import type { NodeSession } from '../../../src/connect.js';
import { AbortError, ConfigError } from '../../../src/errors.js';
import type { FlexStream } from '../../../src/face/duplex.js';

/** A stand-in session whose dials resolve to their address, remembered in `dialled`. */
function fakeSession(): Pick<NodeSession, 'dial'> & { dialled: string[] } {
  const dialled: string[] = [];
  return {
    dialled,
    dial: (address) => {
      dialled.push(String(address));
      return Promise.resolve(address as unknown as FlexStream);
    },
  };
}

describe('dialerToCome', () => {
  it('makes the dials that waited for the session on it once it opens, and later ones at once', async () => {
    const { dialer, open } = dialerToCome();
    const early = dialer.dial('bob:22', { signal: new AbortController().signal });
    const session = fakeSession();
    open(session);
    expect(await early).toBe('bob:22');
    expect(await dialer.dial('bob:80')).toBe('bob:80');
    expect(session.dialled).toEqual(['bob:22', 'bob:80']);
  });

  it("ends a dial's wait for the session at its signal, and never makes it", async () => {
    const { dialer, open } = dialerToCome();
    const stop = new AbortController();
    const waiting = dialer.dial('bob:22', { signal: stop.signal });
    const reason = new Error('stopping');
    stop.abort(reason);
    // Named as the node names an aborted dial (a bare "dial aborted" did not say which forward's).
    await expect(waiting).rejects.toThrow(new AbortError('dial bob:22 aborted'));
    await expect(waiting).rejects.toMatchObject({ cause: reason });
    const late = dialer.dial({ ip: 7, port: 23 }, { signal: stop.signal });
    await expect(late).rejects.toBeInstanceOf(AbortError);
    await expect(late).rejects.toThrow('dial 7:23 aborted');
    const session = fakeSession();
    open(session);
    expect(session.dialled).toEqual([]);
  });

  it('refuses a bad address at once, as a session does, rather than when the session opens', async () => {
    const { dialer } = dialerToCome();
    await expect(dialer.dial('bob', { signal: new AbortController().signal })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});

describe('dialerToCome: dials sharing one signal', () => {
  it('add one listener to it, however many wait, and none once they are made', async () => {
    const { dialer, open } = dialerToCome();
    const stop = new AbortController();
    // Past 10 listeners Node warns of a leak: the command's forwards share one shutdown signal.
    const dials = Array.from({ length: 20 }, (_, i) => dialer.dial(`bob:${i + 1}`, { signal: stop.signal }));
    expect(getEventListeners(stop.signal, 'abort').length).toBe(1);
    const session = fakeSession();
    open(session);
    await Promise.all(dials);
    expect(session.dialled).toHaveLength(20);
    expect(getEventListeners(stop.signal, 'abort').length).toBe(0);
  });

  it('all end at its abort', async () => {
    const { dialer } = dialerToCome();
    const stop = new AbortController();
    const dials = Array.from({ length: 12 }, (_, i) => dialer.dial(`bob:${i + 1}`, { signal: stop.signal }));
    stop.abort();
    for (const d of dials) await expect(d).rejects.toBeInstanceOf(AbortError);
    expect(getEventListeners(stop.signal, 'abort').length).toBe(0);
  });
});
