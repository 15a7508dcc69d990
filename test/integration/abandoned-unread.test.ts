import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { canGc, settleHeap } from '../helpers/faulty-memory.js';

/**
 * A stream that closed cleanly with bytes its reader never took, and that the application then
 * let go of (no cancel(), no destroy()): its bytes were freed with it, but went on counting against
 * the connection's maxReceiveBuffer for as long as the connection lived. Once they filled it, every
 * new payload reset its stream with a FlowControlError. They stop counting once the stream is
 * garbage-collected.
 */

const BUDGET = 100_000;
const SENT = 30_000;

const nodes: { destroy(): void }[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** One face's ways: make a node, answer a stream, let one go unread, read one. */
interface Face {
  node(t: Transport, o: NodeOptions): Pick<Node, 'dial' | 'listen' | 'destroy'>;
  /** The peer's side: sends SENT bytes and ends. */
  reply(s: unknown): void;
  /** Ends our side and waits for the stream's close, reading nothing. */
  finish(s: unknown): Promise<void>;
  readAll(s: unknown): Promise<number>;
}

/** The stream's core has closed (a Node stream whose readable side is not read emits no 'close'). */
async function closed(s: { core: { state: string } }): Promise<void> {
  // Not expect.poll: it kept the stream alive for the rest of the test.
  while (s.core.state !== 'closed') await new Promise((r) => setTimeout(r, 5));
}

const web: Face = {
  node: (t, o) => new WebNode(t, o) as unknown as Node,
  reply: (s) => {
    const w = (s as WebStream).writable.getWriter();
    void w.write(new Uint8Array(SENT)).then(() => w.close());
  },
  finish: async (s) => {
    await (s as WebStream).writable.close();
    await closed(s as WebStream);
  },
  readAll: async (s) => (await new Response((s as WebStream).readable).arrayBuffer()).byteLength,
};

const duplex: Face = {
  node: (t, o) => new Node(t, o),
  reply: (s) => {
    (s as FlexStream).end(new Uint8Array(SENT));
  },
  finish: async (s) => {
    (s as FlexStream).end();
    await closed(s as FlexStream);
  },
  readAll: async (s) => {
    let n = 0;
    for await (const c of s as FlexStream) n += (c as Uint8Array).length;
    return n;
  },
};

describe('unread bytes of a stream the application let go of', () => {
  it.skipIf(!canGc()).for([
    ['WebStream', web],
    ['FlexStream', duplex],
  ] as const)('stop counting against maxReceiveBuffer once it is collected (%s)', async ([, face]) => {
    const [ta, tb] = memoryPair();
    const o = { window: 64 * 1024, maxReceiveBuffer: BUDGET };
    const a = face.node(ta, { domain: 'alice', ip: 1, ...o });
    const b = face.node(tb, { domain: 'bob', ip: 2, ...o });
    nodes.push(a, b);
    b.listen(5).on('stream', (s: unknown) => face.reply(s));
    // Each is let go of with SENT bytes unread: together twice the budget.
    for (let i = 0; i < (2 * BUDGET) / SENT; i++) {
      await face.finish(await a.dial('bob:5'));
      await settleHeap(10);
    }
    // Before, this one's data found the budget full and reset the stream (FlowControlError).
    const s = await a.dial('bob:5');
    expect(await face.readAll(s)).toBe(SENT);
  });
});
