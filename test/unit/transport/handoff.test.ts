import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { Handoff } from '../../../src/transport/handoff.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { attachProbe, Probe, settleTurns } from './probe.js';

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

describe('Handoff view', () => {
  it("passes on the transport's release report and copy flag: slabs depend on them", () => {
    const [a, b] = memoryPair();
    const inner = Object.assign(a, { releasesLater: true });
    const calls: unknown[] = [];
    const send = a.send.bind(a);
    inner.send = (parts, onReleased) => {
      calls.push(onReleased);
      return send(parts);
    };
    const view = new Handoff(inner, new Probe()).view();
    expect(view.releasesLater).toBe(true);
    expect(view.copies).toBe(true);
    const released = () => {};
    view.send([Uint8Array.of(1)], released);
    expect(calls).toEqual([released]);
    a.destroy();
    b.destroy();
  });

  it('refuses a second attach with ConfigError, as every transport does', () => {
    const [a] = memoryPair({ framing: 'message' });
    const handoff = new Handoff(a, new Probe());
    handoff.detach();
    const view = handoff.view();
    const p = new Probe();
    view.attach(p);
    expect(() => view.attach(new Probe())).toThrow(ConfigError);
    expect(() => handoff.view().attach(new Probe())).toThrow(ConfigError);
    a.destroy();
  });

  it('delivers nothing held while paused, and everything (then the close) once resumed', async () => {
    const [a, b] = memoryPair({ framing: 'message' });
    const pb = attachProbe(b);
    const first = new Probe();
    const handoff = new Handoff(a, first);
    handoff.detach([Uint8Array.of(1)]);
    b.send([Uint8Array.of(2)]);
    b.send([Uint8Array.of(3)]);
    await settleTurns();
    b.close();
    await settleTurns();
    const view = handoff.view();
    const later = new Probe();
    const got: number[] = [];
    // The reader pauses at the first message, as a consumer applying backpressure does.
    later.onData = (c) => {
      got.push(c[0]);
      if (got.length === 1) view.pauseReading();
    };
    view.attach(later);
    await settleTurns();
    expect(got).toEqual([1]);
    expect(later.closes).toEqual([]);
    view.resumeReading();
    await later.until(() => later.closes.length > 0, 'the close');
    expect(got).toEqual([1, 2, 3]);
    expect(later.closes).toEqual([undefined]);
    await pb.closed();
  });
});

describe('Handoff view paused with held data', () => {
  async function pausedWithHeld() {
    const [a, b] = memoryPair({ framing: 'message' });
    const pb = attachProbe(b);
    const handoff = new Handoff(a, new Probe());
    handoff.detach([Uint8Array.of(1), Uint8Array.of(2)]);
    const view = handoff.view();
    const p = new Probe();
    p.onData = () => view.pauseReading();
    view.attach(p);
    await settleTurns();
    expect(p.bytes).toBe(1);
    return { b, pb, view, p };
  }

  it('reports the close of its own destroy at once', async () => {
    const { view, p, pb } = await pausedWithHeld();
    view.destroy();
    await p.until(() => p.closes.length > 0, 'the close');
    expect(p.bytes).toBe(1);
    await pb.closed();
  });

  it('reports a failure of the connection at once', async () => {
    const { b, p } = await pausedWithHeld();
    b.destroy();
    await p.until(() => p.closes.length > 0, 'the close');
    expect(p.closes[0]).toBeInstanceOf(Error);
  });

  it('reports a clean close held behind the data after its own destroy', async () => {
    const { b, view, p } = await pausedWithHeld();
    b.close();
    await settleTurns(10);
    expect(p.closes).toEqual([]); // owed behind the held message
    view.destroy();
    await p.until(() => p.closes.length > 0, 'the close');
    expect(p.bytes).toBe(1);
  });
});

describe('Handoff between detach and the view', () => {
  // Found by the transport hunt: after detach the transport went on reading into the handoff's
  // held list, with no bound, until the view was attached (admit() detaches before it opens the
  // answer, and hands the view out to be attached whenever its caller likes): a peer, or other
  // nodes dialling through the switcher, could fill it as fast as they could send.
  it('stops reading the transport until the view is attached, so the sender feels backpressure', async () => {
    const [a, b] = memoryPair({ framing: 'message', highWaterMark: 64 * 1024 });
    const pb = attachProbe(b);
    const handoff = new Handoff(a, new Probe());
    handoff.detach([Uint8Array.of(7)]);
    const chunk = new Uint8Array(16 * 1024).fill(1);
    let sent = 0;
    let accepted = true;
    while (accepted && sent < 1000) {
      accepted = b.send([chunk]);
      sent++;
      await settleTurns(1);
    }
    expect(sent).toBeLessThan(10);
    const view = handoff.view();
    const p = new Probe();
    view.attach(p);
    await pb.until(() => pb.drains > 0, 'the sender drained once the view reads');
    await p.until(() => p.bytes === 1 + sent * chunk.length, 'the leftover and every chunk');
    expect(p.sizes[0]).toBe(1);
    a.destroy();
    await Promise.all([p.closed(), pb.closed()]);
  });

  it('a view paused before its attach keeps the transport paused', async () => {
    const [a, b] = memoryPair({ framing: 'message', highWaterMark: 64 * 1024 });
    const pb = attachProbe(b);
    const handoff = new Handoff(a, new Probe());
    handoff.detach();
    const view = handoff.view();
    view.pauseReading();
    const p = new Probe();
    view.attach(p);
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    while (b.send([chunk]) && sent < 1000) {
      sent++;
      await settleTurns(1);
    }
    expect(sent).toBeLessThan(10);
    expect(p.bytes).toBe(0);
    view.resumeReading();
    await p.until(() => p.bytes === (sent + 1) * chunk.length, 'every chunk once resumed');
    a.destroy();
    await Promise.all([p.closed(), pb.closed()]);
  });
});
