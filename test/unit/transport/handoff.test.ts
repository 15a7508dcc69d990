import { describe, expect, it } from 'vitest';
import { Handoff } from '../../../src/transport/handoff.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { attachProbe, Probe } from './probe.js';

describe('Handoff', () => {
  // Found by the transport audit: view().attach switched forwarding to the new handlers at once
  // but replayed the held messages from a microtask, so a delivery the transport had already
  // queued (memory and WebSocket inboxes flush from a microtask) overtook them.
  it('hands over the leftover, then what arrived after detach, then new data, in order', async () => {
    const [a, b] = memoryPair({ framing: 'message' });
    const pb = attachProbe(b);
    const first = new Probe();
    const handoff = new Handoff(a, first);
    b.send([Uint8Array.of(1)]);
    await first.until(() => first.bytes === 1, 'the first message');
    handoff.detach([Uint8Array.of(2)]);
    b.send([Uint8Array.of(3)]);
    const later = new Probe();
    const got: number[] = [];
    later.onData = (c) => got.push(c[0]);
    handoff.view().attach(later);
    b.send([Uint8Array.of(4)]);
    await later.until(() => got.length === 3, 'leftover, held and new messages');
    expect(got).toEqual([2, 3, 4]);
    expect(first.bytes).toBe(1);
    a.destroy();
    await Promise.all([later.closed(), pb.closed()]);
    expect(first.closes).toEqual([]);
  });
});
