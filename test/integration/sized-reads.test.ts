import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream, Node } from '../../src/index.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { type RawPeer, rawLink, rawStream } from '../helpers/raw.js';

/**
 * Readers that ask for a number of bytes (`read(n)` on 'readable', as parsers of length-prefixed
 * records do) and so leave a partial record in the readable buffer while they wait for the rest.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** Turns the event loop until `pred` holds; throws after `turns` turns (no timers involved). */
async function until(pred: () => boolean, what: () => string, turns = 2_000): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i === turns) throw new Error(`not settled: ${what()}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Takes `size`-byte records with read(size) whenever the stream is readable. */
function recordReader(s: FlexStream, size: number): { got(): number } {
  let got = 0;
  s.on('readable', () => {
    for (;;) {
      const c = s.read(size) as Buffer | null;
      if (c === null) return;
      got += c.length;
    }
  });
  return { got: () => got };
}

async function opened(window: number, caps?: number): Promise<{ raw: RawPeer; accepted: FlexStream }> {
  const { node, raw } = rawLink({ heartbeatInterval: 0 });
  nodes.push(node);
  const { ack, accepted } = await rawStream(node, raw, window, caps);
  expect(ack.ok).toBe(true);
  return { raw, accepted };
}

describe('read(n) readers', () => {
  it('get small payloads that arrive while they wait for the rest of a record', async () => {
    const { raw, accepted } = await opened(64 * 1024, Caps.HALF_CLOSE | Caps.RESET);
    const r = recordReader(accepted, 1000);
    // 100-byte payloads, one per turn: the reader's first read(1000) finds 100 bytes and waits.
    for (let i = 0; i < 20; i++) {
      raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(100).fill(i));
      await new Promise((res) => setImmediate(res));
    }
    await until(
      () => r.got() === 2000,
      () => `the reader got ${r.got()} of 2000 bytes, ${accepted.readableLength} in its buffer`,
    );
  });
});
