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
