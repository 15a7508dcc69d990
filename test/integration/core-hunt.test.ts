import { afterEach, describe, expect, it } from 'vitest';
import type { Node } from '../../src/index.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { decodeReset } from '../../src/wire/reset.js';
import { type RawPeer, rawLink, rawStream } from '../helpers/raw.js';

let node: Node | null = null;
afterEach(() => {
  node?.destroy();
  node = null;
});

function link(): { node: Node; raw: RawPeer } {
  const l = rawLink();
  node = l.node;
  return l;
}

describe('dial edges', () => {
  it('a dial whose OpenStream cannot be encoded leaves no pending dial behind', async () => {
    const l = rawLink({ maxPendingDials: 2, dialTimeout: 30 });
    node = l.node;
    const rejections: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      rejections.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (let i = 0; i < 2; i++) {
        await expect(node.dial('bad\u0000name:80')).rejects.toMatchObject({ name: 'ConfigError' });
      }
      // Neither bad dial counts against maxPendingDials.
      const ok = node.dial('bob:80');
      const open = await l.raw.next((f) => f.cmd === Cmd.OPEN, 1000);
      l.raw.send(Cmd.OPEN_ACK, open.srcIP, open.srcPort, 2, 80);
      await expect(ok).resolves.toBeDefined();
      // Nor does one time out later, unheard.
      await new Promise((r) => setTimeout(r, 80));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('stream core edges', () => {
  it('resets a stream whose peer sends data after its FIN (PROTOCOL.md 14.2)', async () => {
    const { node, raw } = link();
    const { accepted } = await rawStream(node, raw, 65536, Caps.HALF_CLOSE | Caps.RESET);
    const errors: Error[] = [];
    accepted.on('error', (e) => errors.push(e));
    accepted.resume();
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array([1, 2, 3]));
    raw.send(Cmd.FIN, 1, 80, 2, 5000);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array([4, 5, 6]));
    const reset = await raw.next((f) => f.cmd === Cmd.RESET, 1000);
    expect(decodeReset(reset.payload).code).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(errors[0]?.message).toMatch(/data after FIN/);
  });

  it('resets a peer that sends beyond its credit, even while credit is owed but not yet sent', async () => {
    const { node, raw } = link();
    const { accepted } = await rawStream(node, raw, 65536, Caps.HALF_CLOSE | Caps.RESET);
    const errors: Error[] = [];
    accepted.on('error', (e) => errors.push(e));
    // The whole window, in frames the face queues as they are.
    for (let i = 0; i < 4; i++) raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(16384));
    await new Promise((r) => setTimeout(r, 20));
    // The reader takes a little: under the ACK threshold (half the window), so no credit goes back.
    expect(accepted.read(10000)?.length).toBe(10000);
    await new Promise((r) => setTimeout(r, 20));
    expect(raw.creditReturned).toBe(0);
    // The peer has no credit left: one more byte is beyond its window.
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(1));
    const reset = await raw.next((f) => f.cmd === Cmd.RESET, 1000);
    expect(decodeReset(reset.payload).code).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(errors[0]?.name).toBe('FlowControlError');
  });
  // PROTOCOL.md 4.3: credit never rises above the window. A peer that returns credit for bytes it
  // was never sent (4 x 65,535 before any data here) gains nothing: the node still keeps at most a
  // window unacknowledged, and each real ACK releases what it says. Not a protocol error (Go caps
  // the same way, and over-acknowledging is harmless to Go, 4.5).
  for (const caps of [Caps.RESET | Caps.PROMPT_CREDIT, 0]) {
    it(`ignores credit beyond the window (${caps ? 'flexmux' : 'plain v3'} stream)`, async () => {
      const { node, raw } = link();
      const { accepted } = await rawStream(node, raw, 65536, caps);
      for (let i = 0; i < 4; i++) raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 65535);
      await expect.poll(() => node.stats.framesIn).toBeGreaterThanOrEqual(5);
      expect(accepted.core.sendCredit).toBe(65536);
      accepted.write(new Uint8Array(256 * 1024));
      await expect.poll(() => accepted.core.bytesWritten).toBe(65536);
      expect(accepted.core.sendCredit).toBe(0);
      raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 1000);
      await expect.poll(() => accepted.core.bytesWritten).toBe(66536);
      expect(accepted.core.sendCredit).toBe(0);
    });
  }
});
