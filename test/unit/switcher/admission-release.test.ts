import { describe, expect, it } from 'vitest';
import { AdmissionReader, type FrameSink } from '../../../src/switcher/admission.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { sealRequest } from '../../../src/wire/admission/index.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import type { Frame } from '../../../src/wire/frame.js';
import { encodeFrame, makeFrame } from '../../../src/wire/frame.js';
import { canGc, settleHeap } from '../../helpers/faulty-memory.js';
import { PASSWORD } from './helpers.js';

/**
 * The reader stays the transport's handler for the whole connection. Its settled `first` promise
 * kept the admission frame, and the chunk its payload is a view of, as long as the client was
 * connected: a small ArrayBuffer per client (~180 B measured with 200 admitted nodes, 0 since).
 */

function sink(): FrameSink & { frames: Frame[] } {
  const frames: Frame[] = [];
  return { frames, frame: (f) => frames.push(f), drain() {}, closed() {}, malformed() {}, failed() {} };
}

describe('AdmissionReader after admission', () => {
  it('no longer holds the admission frame or its bytes once handed off', async () => {
    const [a, b] = memoryPair();
    const reader = new AdmissionReader(b, 10_000, 64 * 1024, 64);
    const req = await sealRequest(PASSWORD, { domain: 'lean', timestamp: 1n });
    const ping = encodeFrame(makeFrame(Cmd.PING, SWITCHER_IP, 0, 1, 9));
    const both = new Uint8Array(req.length + ping.length);
    both.set(req);
    both.set(ping, req.length);
    a.send([both]);

    // Only weak references outlive this function: what keeps the frame alive is the reader.
    const refs = await (async () => {
      const f = await reader.first;
      expect(f.cmd).toBe(Cmd.ADMIT);
      return { frame: new WeakRef(f), bytes: new WeakRef(f.payload.buffer) };
    })();
    const s = sink();
    reader.handOff(s);
    // The frame sent right behind still reaches the router.
    expect(s.frames.map((f) => f.cmd)).toEqual([Cmd.PING]);

    expect(reader.holdsFirst).toBe(false);
    expect(() => reader.first).toThrow(/admission is over/);
    if (canGc()) {
      await settleHeap();
      expect(refs.frame.deref()).toBeUndefined();
      expect(refs.bytes.deref()).toBeUndefined();
    }
    expect(reader.isEnded).toBe(false);
    a.destroy();
    b.destroy();
  });

  it('no longer holds it once a refused connection is discarded', async () => {
    const [a, b] = memoryPair();
    const reader = new AdmissionReader(b, 10_000, 64 * 1024, 64);
    a.send([await sealRequest('wrong', { domain: 'x', timestamp: 1n })]);
    await reader.first;
    reader.discard();
    expect(reader.holdsFirst).toBe(false);
    a.destroy();
    b.destroy();
  });
});
