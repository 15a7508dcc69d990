import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a node that could not be made', () => {
  it('leaves no heartbeat behind on a transport that belongs to another node', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    const [ta, tb] = memoryPair();
    const hb = { heartbeatInterval: 50, heartbeatTimeout: 50 };
    const a = new Node(ta, { ip: 1, ...hb });
    const b = new Node(tb, { ip: 2, ...hb });
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    // A second node on the same transport is refused (its handlers are taken)...
    expect(() => new Node(ta, { ip: 3, ...hb })).toThrow(ConfigError);
    // ...but its heartbeat ran on: it wrote pings into a's connection, heard none of the answers
    // (a took them) and destroyed the connection as dead.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.closed).toBe(false);
    expect(b.closed).toBe(false);
  });
});
