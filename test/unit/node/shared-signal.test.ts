import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError } from '../../../src/errors.js';
import { admit, Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';

/**
 * One signal of the caller's given to many operations at once (a program's shutdown signal, passed
 * to every dial of a proxy): the dials waiting for their ACK, the pings in flight and the accepts
 * waiting share one listener on it, as a session's waits do. With a listener each, the eleventh
 * made Node.js print 'MaxListenersExceededWarning: Possible EventTarget memory leak detected'.
 */
describe('a signal shared by many operations in flight', () => {
  const nodes: Node[] = [];
  afterEach(() => {
    for (const n of nodes.splice(0)) n.destroy();
  });

  /** Two nodes whose frames take a minute to arrive: nothing is answered while the test runs. */
  function slowPair(): { a: Node; b: Node } {
    const [ta, tb] = memoryPair({ latency: 60_000 });
    const a = new Node(ta, { domain: 'a' });
    const b = new Node(tb, { domain: 'b' });
    nodes.push(a, b);
    return { a, b };
  }

  async function settleAll(ops: Promise<unknown>[], ac: AbortController, what: RegExp): Promise<void> {
    ac.abort(new Error('stop'));
    for (const r of await Promise.allSettled(ops)) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as Error;
      expect(err).toBeInstanceOf(AbortError);
      expect(err.message).toMatch(what);
      expect((err.cause as Error).message).toBe('stop');
    }
  }

  it('dials waiting for their answer listen to it once', async () => {
    const { a } = slowPair();
    const ac = new AbortController();
    const dials = Array.from({ length: 20 }, () => a.dial('b:80', { signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await settleAll(dials, ac, /^dial b:80 aborted$/);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('lets go of it once the dials are answered', async () => {
    const [ta, tb] = memoryPair();
    const a = new Node(ta, { domain: 'a' });
    const b = new Node(tb, { domain: 'b' });
    nodes.push(a, b);
    b.listen(80).on('stream', (s) => s.on('error', () => {}));
    const ac = new AbortController();
    const streams = await Promise.all(Array.from({ length: 3 }, () => a.dial('b:80', { signal: ac.signal })));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    for (const s of streams) s.destroy();
  });

  it('pings in flight listen to it once', async () => {
    const { a } = slowPair();
    const ac = new AbortController();
    const pings = Array.from({ length: 20 }, () => a.ping('b', { signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await settleAll(pings, ac, /^ping b aborted$/);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('accepts waiting listen to it once, and let go of it when their listener closes', async () => {
    const { b } = slowPair();
    const ac = new AbortController();
    const listener = b.listen(7);
    const accepts = Array.from({ length: 20 }, () => listener.accept({ signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await settleAll(accepts, ac, /^accept on port 7 aborted$/);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // Closed listeners let go too.
    const ac2 = new AbortController();
    const closing = b.listen(8);
    const waiting = closing.accept({ signal: ac2.signal });
    closing.close();
    await expect(waiting).rejects.toThrow('listener closed');
    expect(getEventListeners(ac2.signal, 'abort')).toHaveLength(0);
  });

  it('admissions waiting for their answer listen to it once', async () => {
    const ac = new AbortController();
    const admissions = Array.from({ length: 20 }, () => {
      // Nobody answers on the other end.
      const [ours] = memoryPair();
      return admit(ours, { password: 'pw', domain: 'a', signal: ac.signal });
    });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await settleAll(admissions, ac, /^admission aborted$/);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
