import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { decodeReset } from '../../src/wire/reset.js';
import { goWriter, u32 } from '../helpers/go-writer.js';
import { rawLink, rawStream } from '../helpers/raw.js';
import { readAll } from '../helpers/streams.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function throughGoSwitcher(): { a: Node; b: Node } {
  const [a, sa] = memoryPair();
  const [sb, b] = memoryPair();
  goWriter(sa, sb);
  goWriter(sb, sa);
  const nodes = {
    a: new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0 }),
    b: new Node(b, { domain: 'bob', ip: 2, heartbeatInterval: 0 }),
  };
  cleanups.push(
    () => nodes.a.destroy(),
    () => nodes.b.destroy(),
  );
  return nodes;
}

describe('a half-close across a Go switcher, which sends FIN ahead of queued data', () => {
  it('an IP dial delivers every byte before the end of stream', async () => {
    const { a, b } = throughGoSwitcher();
    const accepted = b.listen(80).accept();
    const s = await a.dial('2:80');
    const peer = await accepted;
    expect(s.core.caps & Caps.HALF_CLOSE).toBe(Caps.HALF_CLOSE);
    const sent = new Uint8Array(200_000).map((_, i) => i % 251);
    s.end(sent);
    const got = await readAll(peer);
    expect(got.length).toBe(sent.length);
    expect(Buffer.from(got).equals(Buffer.from(sent))).toBe(true);
  });

  it('a request, half-closed, gets its whole reply, half-closed too', async () => {
    const { a, b } = throughGoSwitcher();
    const l = b.listen(80);
    const served = (async () => {
      const peer = await l.accept();
      const request = await readAll(peer);
      peer.end(Buffer.concat([request, request]));
    })();
    const s = await a.dial('2:80');
    const request = new Uint8Array(100_000).map((_, i) => i % 253);
    s.end(request);
    const reply = await readAll(s);
    await served;
    expect(Buffer.from(reply).equals(Buffer.concat([request, request]))).toBe(true);
  });
});

describe("the count a FIN carries (the peer's own frames)", () => {
  const caps = Caps.HALF_CLOSE | Caps.RESET;

  it('ends the reader only once the bytes it counts have come', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const { accepted } = await rawStream(node, raw, 4096, caps);
    const got = readAll(accepted);
    raw.send(Cmd.FIN, 1, 80, 2, 5000, u32(10));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(4).fill(1));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(6).fill(2));
    expect([...(await got)]).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
  });

  it('takes data past the count, or a count beyond the window, for a protocol violation', async () => {
    for (const [count, data] of [
      [3, 5],
      [5000, 0],
    ] as const) {
      const { node, raw } = rawLink({ heartbeatInterval: 0 });
      cleanups.push(() => node.destroy());
      const { accepted } = await rawStream(node, raw, 4096, caps);
      const failed = new Promise<Error>((resolve) => accepted.once('error', resolve));
      raw.send(Cmd.FIN, 1, 80, 2, 5000, u32(count));
      if (data > 0) raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(data));
      expect((await failed).message).toMatch(/FIN/);
      const reset = await raw.next((f) => f.cmd === Cmd.RESET);
      expect(decodeReset(reset.payload).code).toBe(1);
    }
  });
});
