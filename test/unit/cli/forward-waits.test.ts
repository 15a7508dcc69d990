import { describe, expect, it } from 'vitest';
import { forwardWaits } from '../../../src/cli/node.js';
import type { SessionState } from '../../../src/node/session.js';

/** When `flexmux node --forward` connections wait for their target or for the session. */

describe('forwardWaits', () => {
  it('waits for a target only within --dial-timeout of an admission by default', () => {
    const w = forwardWaits({ dialTimeout: 60_000 }, () => undefined);
    expect(w.target()).toBe(false);
    w.admitted();
    expect(w.target()).toBe(true);
  });

  it('waits for a target at any time with --wait-for-target', () => {
    // Never admitted, so only the flag can say yes: a target node restarting on its own, long
    // after this node connected, is waited for too.
    expect(forwardWaits({ dialTimeout: 60_000, waitForTarget: true }, () => undefined).target()).toBe(true);
    expect(forwardWaits({ dialTimeout: 60_000, waitForTarget: false }, () => undefined).target()).toBe(false);
  });

  it('waits out a lost connection only while the session reconnects', () => {
    let state: SessionState | undefined;
    const w = forwardWaits({ dialTimeout: 60_000 }, () => (state === undefined ? undefined : { state }));
    const seen: Record<string, boolean> = {};
    for (const s of [undefined, 'connecting', 'backoff', 'ready', 'closed'] as const) {
      state = s;
      seen[String(s)] = w.session();
    }
    expect(seen).toEqual({ undefined: false, connecting: true, backoff: true, ready: false, closed: false });
  });
});
