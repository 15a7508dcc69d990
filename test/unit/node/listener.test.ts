import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, ResetCode } from '../../../src/errors.js';
import { type FlexStream, Node } from '../../../src/index.js';
import { Listener } from '../../../src/node/listener.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Caps, Cmd } from '../../../src/wire/constants.js';
import { decodeOpenAck, encodeOpen } from '../../../src/wire/open.js';
import { decodeReset } from '../../../src/wire/reset.js';
import { HostilePeer } from '../../helpers/faulty-peer.js';
import { trapUncaught } from '../../helpers/faulty-process.js';

/** A backlog entry that counts how often the listener asks whether it died. */
class Probe {
  reads = 0;
  private dead = false;
  get destroyed(): boolean {
    this.reads++;
    return this.dead;
  }
  destroy(): void {
    this.dead = true;
  }
}

function fill(l: Listener<Probe>, n: number): Probe[] {
  const all: Probe[] = [];
  for (let i = 0; i < n; i++) {
    expect(l.canTake()).toBe(true);
    const s = new Probe();
    l.offer(s);
    all.push(s);
  }
  return all;
}

describe('Listener backlog', () => {
  it('admits an open without scanning a backlog that is not full', () => {
    const l = new Listener<Probe>(80, 10_000);
    const all = fill(l, 2_000);
    // Each open used to walk the whole backlog: 2,000 opens read ~2,000,000 flags.
    const reads = all.reduce((n, s) => n + s.reads, 0);
    expect(reads).toBe(0);
  });

  it('still finds room left by dead streams once the backlog is full', async () => {
    const l = new Listener<Probe>(80, 4);
    const all = fill(l, 4);
    expect(l.canTake()).toBe(false);
    // The node tells the listener when a stream of its port ends (release): found at once.
    all[1]!.destroy();
    l.streamEnded();
    expect(l.canTake()).toBe(true);
    expect(l.pending).toBe(3);
    // Untold (a stream failed with nobody listening is destroyed a turn later): found next turn.
    l.offer(new Probe());
    expect(l.canTake()).toBe(false);
    all[2]!.destroy();
    await Promise.resolve();
    expect(l.canTake()).toBe(true);
    expect(l.pending).toBe(3);
  });

  // Regression: once the backlog was full, every open scanned all of it for dead streams: with a
  // backlog of 8,192, 50,000 opens refused as `listener backlog full` held the event loop 7.7 s.
  // A scan now holds for the rest of the turn, until a stream of the port ends.
  it('scans a full backlog once per turn, not once per open', async () => {
    const l = new Listener<Probe>(80, 1_000);
    const all = fill(l, 1_000);
    for (let i = 0; i < 5_000; i++) expect(l.canTake()).toBe(false);
    const reads = (): number => all.reduce((n, s) => n + s.reads, 0);
    expect(reads()).toBe(1_000);
    await Promise.resolve();
    expect(l.canTake()).toBe(false);
    expect(reads()).toBe(2_000);
  });
});

/**
 * Streams still in the backlog when their listener closes were never the application's: the peer
 * must hear they were refused (reset code 4, PROTOCOL.md 14.3), not cancelled by an application
 * (code 0, what destroy() without an error sends). A plain v3 peer gets the v3 close.
 */
describe('accept() with a signal', () => {
  it('the accepts sharing one signal listen to it through one listener', async () => {
    // A pool of workers, each waiting in accept() with the server's shutdown signal. Before: a
    // listener each, and Node.js warned of a leak at the eleventh.
    const l = new Listener<Probe>(7, 8);
    const ac = new AbortController();
    const waits = Array.from({ length: 12 }, () => l.accept({ signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    const s = new Probe();
    l.offer(s);
    expect(await waits[0]).toBe(s);
    ac.abort();
    for (const w of waits.slice(1)) await expect(w).rejects.toBeInstanceOf(AbortError);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    // One that is handed a stream, or fails with the listener's close, lets go of it too.
    const again = new AbortController();
    const taken = l.accept({ signal: again.signal });
    l.offer(new Probe());
    await taken;
    const closing = l.accept({ signal: again.signal });
    l.close();
    await expect(closing).rejects.toThrow('listener closed');
    expect(getEventListeners(again.signal, 'abort')).toHaveLength(0);
  });
});

describe('a closing listener refuses its backlog', () => {
  const nodes: Node[] = [];
  afterEach(() => {
    for (const n of nodes.splice(0)) n.destroy();
  });

  async function backlogged(
    caps: number,
  ): Promise<{ node: Node; l: Listener<FlexStream>; peer: HostilePeer }> {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'alice', heartbeatInterval: 0 });
    nodes.push(node);
    const l = node.listen(80);
    const peer = new HostilePeer(b);
    peer.frame(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'bob', window: 0, caps }));
    const ack = await peer.next((f) => f.cmd === Cmd.OPEN_ACK);
    expect(decodeOpenAck(ack.payload).ok).toBe(true);
    expect(l.pending).toBe(1);
    return { node, l, peer };
  }

  it('resets them with code 4 (refused) where resets were negotiated', async () => {
    const { node, l, peer } = await backlogged(Caps.RESET);
    const trap = trapUncaught();
    try {
      l.close();
      const reset = await peer.next((f) => f.cmd === Cmd.RESET);
      expect(reset.dstPort).toBe(5000);
      expect(decodeReset(reset.payload)).toEqual({ code: ResetCode.REFUSED, message: 'listener closed' });
      expect(node.streamCount).toBe(0);
      // A turn for deferred emissions: nobody holds the stream, so it must raise no 'error'.
      await new Promise((r) => setImmediate(r));
    } finally {
      trap.release();
    }
    expect(trap.caught).toEqual([]);
  });

  it('closes them the v3 way with a plain peer', async () => {
    const { node, l, peer } = await backlogged(0);
    l.close();
    const close = await peer.next((f) => f.cmd === Cmd.CLOSE);
    expect(close.dstPort).toBe(5000);
    expect(peer.count(Cmd.RESET)).toBe(0);
    expect(node.streamCount).toBe(0);
  });
});
