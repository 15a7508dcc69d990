// A stream to the node's own domain hands its payloads to a reader in the same process: they
// must be copies, or a writer that reuses its buffer would change what the reader already has.
import { afterEach, describe, expect, it } from 'vitest';
import { links, nodePair } from '../helpers/links.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('loopback payloads', () => {
  it("are the reader's own: the writer changing its buffer afterwards changes nothing received", async () => {
    const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
    cleanups.push(nodes.close);
    const accepted = nodes.a.listen(9).accept();
    const s = await nodes.a.dial('alice:9');
    const peer = await accepted;
    const buf = Buffer.alloc(32 * 1024, 7);
    const got = new Promise<Buffer>((resolve) => peer.once('data', (c: Buffer) => resolve(c)));
    s.write(buf);
    const chunk = await got;
    buf.fill(9);
    expect(chunk.length).toBeGreaterThan(0);
    expect(chunk.every((b) => b === 7)).toBe(true);
  });
});
