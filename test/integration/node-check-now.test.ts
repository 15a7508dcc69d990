import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Cmd } from '../../src/wire/constants.js';
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

/** Turns of the event loop until `done()`, at most 100: the scheduler writes in a microtask. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}

/**
 * An upload from `a` to `b` that fills a's output: b's transport stops reading, and a writes
 * 1 MiB, four times the memory transport's high-water mark (the window, 2 MiB, lets it all go).
 * a has heard from b (the open's ACK): the heartbeat's excuse for a backed-up output counts from
 * when it took note of that (2 × heartbeatInterval + heartbeatTimeout: two minutes here).
 */
async function uploadStuck(a: Node, b: Node, tb: { pauseReading(): void }): Promise<FlexStream> {
  b.listen(7).on('stream', (s: FlexStream) => s.resume());
  const up = await a.dial('b:7');
  tb.pauseReading();
  up.write(new Uint8Array(1024 * 1024));
  await until(() => a.scheduler.isBlocked);
  return up;
}

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

  it('behind an upload that filled the output, finds a silent peer within heartbeatTimeout', async () => {
    // A page woken with an upload in flight: its check waited 2 × heartbeatInterval +
    // heartbeatTimeout (32 s by default, two minutes here) instead of heartbeatTimeout, the ping
    // excused as one stuck behind our own data on a slow path.
    const { a, b, tb } = link();
    await uploadStuck(a, b, tb);
    const closed = nextEvent<Error | undefined>(a, 'close', 3_000);
    const check = a.checkNow();
    expect((await closed)?.message).toBe('liveness check: no answer within 300 ms');
    expect(await check).toBe(false);
  });

  it("behind an upload that filled the output, the check's ping goes ahead of the queued data", async () => {
    const { a, b, tb } = link();
    await uploadStuck(a, b, tb);
    const sends = vi.spyOn(a.transport, 'send');
    const check = a.checkNow();
    // Nothing goes out until the output drains, the ping included ...
    await new Promise((r) => setImmediate(r));
    expect(sends).not.toHaveBeenCalled();
    // ... and then it goes first, ahead of the upload's data still queued.
    tb.resumeReading();
    expect(await check).toBe(true);
    const first = sends.mock.calls[0]![0];
    expect(first[0]![0]).toBe(Cmd.PING);
    expect(a.closed).toBe(false);
  });
});
