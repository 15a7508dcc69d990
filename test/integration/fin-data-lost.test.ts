import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DataLostError } from '../../src/errors.js';
import { Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { decodeReset } from '../../src/wire/reset.js';
import { goWriter, u32 } from '../helpers/go-writer.js';
import { rawLink, rawStream } from '../helpers/raw.js';
import { readAll } from '../helpers/streams.js';

/**
 * A Go switcher drops a frame it cannot queue for its destination within 5 s (PROTOCOL.md 7.4,
 * "forward drop"), and sends a flexmux FIN ahead of the stream's queued data (9). The FIN's count
 * (wire/fin.ts) then names bytes that will never come. Regression: the receiver waited for them
 * for ever (a close behind them even ended its reader cleanly, the stream short by what was
 * dropped); now the stream fails with DataLostError, logged, once they can no longer come.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const caps = Caps.HALF_CLOSE | Caps.RESET;

/** A logger that keeps its warnings. */
function warnings(): { logger: never; lines: string[] } {
  const lines: string[] = [];
  const noop = (): void => {};
  const logger = {
    debug: noop,
    info: noop,
    error: noop,
    warn: (_fields: object, msg: string) => lines.push(msg),
  };
  return { logger: logger as never, lines };
}

/** The stream's outcome: its error, or null for a clean end, and what it delivered. */
function outcome(s: Duplex): Promise<{ err: Error | null; got: number }> {
  let got = 0;
  return new Promise((resolve) => {
    s.on('data', (c: Buffer) => {
      got += c.length;
    });
    s.once('end', () => resolve({ err: null, got }));
    s.once('error', (err: Error) => resolve({ err, got }));
  });
}

describe("bytes a peer's FIN counts that a relay dropped", () => {
  it('a close behind them fails the stream instead of ending it short', async () => {
    const { logger, lines } = warnings();
    const { node, raw } = rawLink({ heartbeatInterval: 0, logger });
    cleanups.push(() => node.destroy());
    const { accepted } = await rawStream(node, raw, 4096, caps);
    const result = outcome(accepted);
    // 10 bytes were sent; the relay dropped the last 6. The FIN overtook them, the close did not.
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(4).fill(1));
    raw.send(Cmd.FIN, 1, 80, 2, 5000, u32(10));
    raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
    const { err, got } = await result;
    expect(err).toBeInstanceOf(DataLostError);
    expect((err as DataLostError).missing).toBe(6);
    expect(err?.message).toContain('data lost by the relay');
    expect(got).toBeLessThanOrEqual(4);
    // The close is answered; nothing else is sent after a close.
    await raw.next((f) => f.cmd === Cmd.CLOSE_ACK);
    expect(lines.some((l) => l.startsWith('data lost by the relay'))).toBe(true);
  });

  it('nothing of them within endTimeout while the connection receives other frames fails the stream', async () => {
    const { logger, lines } = warnings();
    const { node, raw } = rawLink({ heartbeatInterval: 0, endTimeout: 200, logger });
    cleanups.push(() => node.destroy());
    const { accepted } = await rawStream(node, raw, 4096, caps);
    const result = outcome(accepted);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(4).fill(1));
    raw.send(Cmd.FIN, 1, 80, 2, 5000, u32(10));
    // The connection goes on carrying frames (here a ping of the peer's), none of the stream's.
    raw.send(Cmd.PING, 1, 0, 2, 7);
    const { err, got } = await result;
    expect(err).toBeInstanceOf(DataLostError);
    expect((err as DataLostError).missing).toBe(6);
    expect(got).toBeLessThanOrEqual(4);
    // The peer hears of it: a reset, code 1.
    const reset = await raw.next((f) => f.cmd === Cmd.RESET);
    expect(decodeReset(reset.payload).code).toBe(1);
    expect(lines.some((l) => l.startsWith('data lost by the relay'))).toBe(true);
  });

  it('a connection that receives nothing meanwhile keeps waiting: bytes that come late still end it cleanly', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0, endTimeout: 50 });
    cleanups.push(() => node.destroy());
    const { accepted } = await rawStream(node, raw, 4096, caps);
    const result = outcome(accepted);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(4).fill(1));
    raw.send(Cmd.FIN, 1, 80, 2, 5000, u32(10));
    // Several endTimeouts pass with the connection quiet (a wait for time itself, the subject here).
    await new Promise((resolve) => setTimeout(resolve, 300));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(6).fill(2));
    expect(await result).toEqual({ err: null, got: 10 });
  });
});

describe('through a relay that orders frames as a Go switcher does and drops one', () => {
  it('the receiver of a half-closed upload fails with DataLostError instead of waiting for ever', async () => {
    const [a, sa] = memoryPair();
    const [sb, b] = memoryPair();
    let dataFrames = 0;
    // The third data frame from alice to bob is dropped.
    goWriter(sa, sb, (f) => f.cmd === Cmd.DATA && f.payload.length > 0 && ++dataFrames === 3);
    goWriter(sb, sa, () => false);
    // Bob's heartbeat pings when it hears nothing: alice's answers are the frames its
    // connection carries while the stream waits.
    const alice = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    const bob = new Node(b, { domain: 'bob', ip: 2, heartbeatInterval: 100, endTimeout: 300 });
    cleanups.push(
      () => alice.destroy(),
      () => bob.destroy(),
    );
    const accepted = bob.listen(80).accept();
    const s = await alice.dial('2:80');
    const peer = await accepted;
    expect(s.core.caps & Caps.HALF_CLOSE).toBe(Caps.HALF_CLOSE);
    s.end(new Uint8Array(200_000).fill(7));
    const err = await readAll(peer).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(DataLostError);
    expect((err as DataLostError).missing).toBeGreaterThan(0);
  });
});
