import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream } from '../../src/index.js';
import { Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { encodeOpen } from '../../src/wire/open.js';
import { encodeReset } from '../../src/wire/reset.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { trapUncaught } from '../helpers/faulty-process.js';
import { links, nodePair } from '../helpers/links.js';

/**
 * A stream that fails before the application holds it must not take the process down. Node
 * streams emit 'error' on process.nextTick, and an 'error' with no listener is an uncaught
 * exception, which ends a Node.js process.
 *
 * Regression (found here, fixed in c1116c1; src/face/duplex.ts onError, src/node/listener.ts offer/accept,
 * src/node/node.ts onOpenAck): (1) dial() resolves with the stream from the OpenStream ACK; when the peer's
 * StreamReset comes in the same read (TCP and WebSocket deliver a macrotask whose nextTicks run before the
 * promise continuation), the stream emits 'error' before `await dial()` returns and the caller can add a
 * listener: an acceptor that rejects a stream at once (`s.destroy(err)` with RESET negotiated, both flexmux)
 * crashes the dialer's process. (2) A stream waiting in a listener's backlog (accept() not called yet) has no
 * owner at all: any peer that can reach the port crashes the node with OpenStream + StreamReset (or a window
 * overrun). Fix: a face must not emit 'error' while nobody can have attached to it: defer onError's destroy
 * to setImmediate when the stream has no 'error' listener yet (covers dial() and accept() continuations); and
 * have the listener drop a backlog stream that fails (remove it, destroy it without an error).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function caughtDuring(f: () => Promise<void>): Promise<string[]> {
  const trap = trapUncaught();
  try {
    await f();
    await new Promise((r) => setTimeout(r, 50)); // a turn for deferred emissions
  } finally {
    trap.release();
  }
  return trap.caught.map(String);
}

describe('a stream that fails before the application holds it', () => {
  for (const kind of ['tcp', 'ws'] as const) {
    it(`dial() over ${kind}: an acceptor that rejects at once does not crash the dialer`, async () => {
      const pair = await nodePair(links[kind]!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
      cleanups.push(() => pair.close());
      pair.b.listen(7).on('stream', (s: FlexStream) => {
        s.on('error', () => {}); // the acceptor's own error is its own business
        s.destroy(Object.assign(new Error('not now'), { resetCode: 0x100 }));
      });
      const handled: string[] = [];
      const caught = await caughtDuring(async () => {
        for (let i = 0; i < 10; i++) {
          const s = await pair.a.dial('bob:7');
          s.on('error', (e) => handled.push(e.message));
        }
      });
      expect(caught).toEqual([]);
      await expect.poll(() => handled.length).toBe(10);
    });
  }

  it('in a listener backlog: OpenStream + StreamReset from a peer does not crash the node', async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { ip: 1, domain: 'victim', heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const l = node.listen(80); // served with accept(), later
    const evil = new HostilePeer(b);
    const caught = await caughtDuring(async () => {
      evil.frame(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'evil', window: 0, caps: Caps.RESET }));
      await evil.next((f) => f.cmd === Cmd.OPEN_ACK);
      evil.frame(Cmd.RESET, 1, 80, 2, 5000, encodeReset(1, 'gotcha'));
      await evil.next((f) => f.cmd === Cmd.PING_ACK || f.cmd === Cmd.RESET, 200).catch(() => {});
    });
    expect(caught).toEqual([]);
    // And the application is not handed a dead stream.
    expect(l.pending).toBe(0);
  });
});
