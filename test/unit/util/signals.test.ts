import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { eitherSignal, followSignal, whenAborted } from '../../../src/util/signals.js';
import { dependants } from '../../helpers/dependants.js';

describe('eitherSignal', () => {
  // AbortSignal.any on Node 20 kept every signal it made alive while the long-lived source lived:
  // a session linking its opener's signal once per attempt collected one per reconnection.
  it('leaves a long-lived source as it found it once each operation settled', () => {
    const opener = new AbortController();
    const start = getEventListeners(opener.signal, 'abort').length;
    for (let i = 0; i < 1_000; i++) {
      const own = new AbortController();
      const linked = eitherSignal(own.signal, opener.signal);
      expect(linked.signal.aborted).toBe(false);
      linked.dispose();
    }
    expect(getEventListeners(opener.signal, 'abort')).toHaveLength(start);
    expect(dependants(opener.signal)).toBe(0);
  });

  it.for([
    ['a', 'b'],
    ['b', 'a'],
  ] as const)('aborts with the reason of the first to abort (%s, then %s)', ([first, second]) => {
    const c = { a: new AbortController(), b: new AbortController() };
    const reasons = { a: new Error('a'), b: new Error('b') };
    const linked = eitherSignal(c.a.signal, c.b.signal);
    c[first].abort(reasons[first]);
    c[second].abort(reasons[second]);
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toBe(reasons[first]);
    // The abort detached it from both sources already; dispose() after it is harmless.
    linked.dispose();
    for (const k of ['a', 'b'] as const) expect(getEventListeners(c[k].signal, 'abort')).toHaveLength(0);
  });

  it.for(['a', 'b'] as const)('is aborted at once, with its reason, when %s already was', (which) => {
    const c = { a: new AbortController(), b: new AbortController() };
    const reason = new Error(which);
    c[which].abort(reason);
    const linked = eitherSignal(c.a.signal, c.b.signal);
    expect(linked.signal.reason).toBe(reason);
    for (const k of ['a', 'b'] as const) expect(getEventListeners(c[k].signal, 'abort')).toHaveLength(0);
  });

  it('is the one signal when there is no second or it is the same', () => {
    const a = new AbortController().signal;
    expect(eitherSignal(a, undefined).signal).toBe(a);
    expect(eitherSignal(a, a).signal).toBe(a);
  });
});

describe('followSignal', () => {
  it('puts one listener on its source however many follow it, and none once they are done', () => {
    const source = new AbortController();
    const followers = Array.from({ length: 20 }, () => followSignal(source.signal));
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1);
    for (const f of followers) f.dispose();
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0);
    // A follower after them all starts over with one listener.
    const later = followSignal(source.signal);
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1);
    later.dispose();
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0);
  });

  it("aborts every live follower with the source's reason, and a new one at once", () => {
    const source = new AbortController();
    const gone = followSignal(source.signal);
    gone.dispose();
    const live = [followSignal(source.signal), followSignal(source.signal)];
    const reason = new Error('stop');
    source.abort(reason);
    for (const f of live) expect(f.signal.reason).toBe(reason);
    expect(gone.signal.aborted).toBe(false);
    expect(followSignal(source.signal).signal.reason).toBe(reason);
    // Disposing after the abort is harmless.
    for (const f of live) f.dispose();
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0);
  });
});

describe('whenAborted', () => {
  it('calls each live callback once through one listener, none disposed, none for a fired source', () => {
    const source = new AbortController();
    const calls: number[] = [];
    const disposers = Array.from({ length: 12 }, (_, i) => whenAborted(source.signal, () => calls.push(i)));
    // The same function twice is two operations: disposing one leaves the other.
    const twice = (): number => calls.push(100);
    const first = whenAborted(source.signal, twice);
    whenAborted(source.signal, twice);
    first();
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1);
    disposers[3]?.();
    source.abort(new Error('stop'));
    expect(calls).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 100]);
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0);
    // On a source that already fired, nothing is called, as for a listener added then.
    whenAborted(source.signal, () => calls.push(-1))();
    expect(calls).not.toContain(-1);
  });
});
