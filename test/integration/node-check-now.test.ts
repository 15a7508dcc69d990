import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { nextEvent } from '../helpers/faulty-streams.js';

/**
 * node.checkNow(): a bare Node (a direct link, or a connection its program admitted and
 * reconnects itself) has the check a Session has. Before, it was internal to the session, and a
 * program woken from sleep on a bare node waited for the heartbeat (heartbeatInterval +
 * heartbeatTimeout, 17 s by default) to learn that its link had died. The heartbeat interval
 * here is a minute: a test that waited for it would run out of time first.
 */

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const options = { heartbeatInterval: 60_000, heartbeatTimeout: 300 };

/** Two nodes on a direct in-memory link. */
function link() {
  const [ta, tb] = memoryPair();
  const a = new Node(ta, { domain: 'a', ip: 1, ...options });
  const b = new Node(tb, { domain: 'b', ip: 2, ...options });
  cleanups.push(
    () => a.destroy(),
    () => b.destroy(),
  );
  return { a, b, ta, tb };
}

describe('node.checkNow()', () => {
  it('resolves true for a live link and leaves it up', async () => {
    const { a } = link();
    expect(await a.checkNow()).toBe(true);
    expect(a.closed).toBe(false);
  });

  it('with the heartbeat off too, finds a silent peer within heartbeatTimeout and closes the node', async () => {
    const [ta, tb] = memoryPair();
    const a = new Node(ta, { domain: 'a', ip: 1, ...options, heartbeatInterval: 0 });
    cleanups.push(
      () => a.destroy(),
      () => tb.destroy(),
    );
    // The peer reads and never answers.
    tb.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const closed = nextEvent<Error | undefined>(a, 'close', 3_000);
    expect(await a.checkNow()).toBe(false);
    const err = await closed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err?.message).toBe('liveness check: no answer within 300 ms');
    expect(a.closed).toBe(true);
  });

  it('resolves false for a closed node, and false for a check under way when the node closes', async () => {
    const { a, tb } = link();
    // The peer stops reading: the check's ping waits for an answer.
    tb.pauseReading();
    const pending = a.checkNow();
    a.destroy();
    expect(await pending).toBe(false);
    expect(await a.checkNow()).toBe(false);
  });
});
