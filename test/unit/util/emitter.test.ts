import { on, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Emitter } from '../../../src/util/emitter.js';

type Events = { tick: [number]; error: [Error] };
class Ticker extends Emitter<Events> {
  fire<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    return this.emit(event, ...args);
  }
}

// node:events' once() and on() are how Node.js programs wait for an event. They call
// removeListener() on anything they were given; without it, a node's 'error' (emitted before its
// 'close' when the peer dies) threw a TypeError from inside the emitter, and the process crashed.
describe('Emitter with node:events helpers', () => {
  it('once() of a node rejects with its error when the peer dies, and leaves no listener', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a' });
    // Typed as an EventEmitter it is not: node:events asks only for on/once/removeListener.
    const b = new Node(y, { domain: 'b' }) as unknown as import('node:events').EventEmitter;
    const closed = once(b, 'close');
    a.destroy(new Error('peer died'));
    await expect(closed).rejects.toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
    const node = b as unknown as Node;
    expect(node.listenerCount('close')).toBe(0);
    expect(node.listenerCount('error')).toBe(0);
  });

  it('once() resolves with the arguments and removes its error listener', async () => {
    const t = new Ticker();
    const got = once(t as unknown as import('node:events').EventEmitter, 'tick');
    t.fire('tick', 7);
    expect(await got).toEqual([7]);
    expect(t.listenerCount('tick')).toBe(0);
    expect(t.listenerCount('error')).toBe(0);
  });

  it('on() iterates events and removes its listeners when the loop ends', async () => {
    const t = new Ticker();
    const seen: number[] = [];
    const loop = (async () => {
      for await (const [n] of on(t as unknown as import('node:events').EventEmitter, 'tick')) {
        seen.push(n as number);
        if (seen.length === 2) break;
      }
    })();
    t.fire('tick', 1);
    t.fire('tick', 2);
    await loop;
    expect(seen).toEqual([1, 2]);
    expect(t.listenerCount('tick')).toBe(0);
    expect(t.listenerCount('error')).toBe(0);
  });

  it('off() removes a once() listener given the function passed to once()', () => {
    const t = new Ticker();
    const seen: number[] = [];
    const fn = (n: number): void => {
      seen.push(n);
    };
    t.once('tick', fn);
    t.off('tick', fn);
    t.fire('tick', 1);
    expect(seen).toEqual([]);
    t.once('tick', fn);
    t.removeListener('tick', fn);
    t.addListener('tick', fn);
    t.fire('tick', 2);
    expect(seen).toEqual([2]);
  });

  // emit() calls the listeners it had when it started: a once() listener already called by an
  // emit made from an earlier listener (a 'state' listener that closes the session emits the next
  // 'state' inside the first) was called again by the outer emit, as Node's emitters never do.
  it('calls a once() listener once when an earlier listener emits the same event again', () => {
    const t = new Ticker();
    const seen: number[] = [];
    t.on('tick', (n) => {
      if (n === 1) t.fire('tick', 2);
    });
    t.once('tick', (n) => seen.push(n));
    t.fire('tick', 1);
    expect(seen).toEqual([2]);
    expect(t.listenerCount('tick')).toBe(1);
  });
});
