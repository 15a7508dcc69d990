import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream, NodeOptions } from '../../src/index.js';
import { streamPair } from '../helpers/links.js';
import { once } from '../helpers/streams.js';

/**
 * A stream the application destroys has not ended: like a net.Socket, it emits 'close' without
 * 'end', so pipeline() and finished() report the abort instead of a complete transfer. (The core
 * finishes such a stream as aborted, not as ended by the peer.)
 */

const pairs: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.close();
});

async function pair(options: NodeOptions): Promise<{ s: FlexStream; peer: FlexStream }> {
  const { s, peer, close } = await streamPair(options, {});
  pairs.push({ close });
  peer.on('error', () => {});
  return { s, peer };
}

for (const [name, options] of [
  ['flexmux peer', {}],
  ['plain v3 peer', { caps: 0 }],
] as const) {
  describe(`destroy() mid-transfer, ${name}`, () => {
    it('fails a pipeline from the stream instead of completing it', async () => {
      const { s, peer } = await pair(options);
      const events: string[] = [];
      for (const e of ['end', 'close']) s.on(e, () => events.push(e));
      peer.write(Buffer.alloc(1000)); // the peer never ends
      let got = 0;
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          got += chunk.length;
          cb();
          if (got === 1000) setImmediate(() => s.destroy());
        },
      });
      await expect(pipeline(s, sink)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(events).toEqual(['close']);
    });
  });
}

// (On a plain v3 stream end() closes both directions: nothing is left to destroy.)
describe('destroy() after end(), flexmux peer', () => {
  it('emits close without end when destroyed after its own end()', async () => {
    const { s, peer } = await pair({});
    const events: string[] = [];
    for (const e of ['end', 'finish', 'close']) s.on(e, () => events.push(e));
    peer.write('x');
    s.resume();
    await once(s, 'data');
    s.end('bye');
    await once(s, 'finish');
    s.destroy();
    await once(s, 'close');
    expect(events).toEqual(['finish', 'close']);
  });
});
