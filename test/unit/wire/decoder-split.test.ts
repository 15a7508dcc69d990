import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cmd } from '../../../src/wire/constants.js';
import { FrameDecoder } from '../../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';

describe('FrameDecoder splitData', () => {
  it('delivers data frames in pieces without copying and other frames whole, for any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(Cmd.DATA, Cmd.OPEN, Cmd.DATA_ACK, Cmd.CLOSE),
            fc.integer({ min: 0, max: 3000 }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 50 }),
        (specs, cuts) => {
          const frames = specs.map(([cmd, n], i) =>
            cmd === Cmd.DATA_ACK
              ? makeFrame(cmd, 1, 2, 3, i, undefined, n)
              : makeFrame(
                  cmd,
                  1,
                  2,
                  3,
                  i,
                  Uint8Array.from({ length: n }, (_, k) => (k + i) & 0xff),
                ),
          );
          const bytes = Buffer.concat(frames.map(encodeFrame));
          const got: Frame[] = [];
          const dec = new FrameDecoder((f) => got.push(f), { splitData: true });
          let off = 0;
          let c = 0;
          while (off < bytes.length) {
            const step = cuts[c++ % cuts.length]!;
            dec.push(bytes.subarray(off, off + step));
            off += step;
          }
          dec.end();
          // merge consecutive pieces of the same data frame (same srcPort = index)
          const merged: { cmd: number; port: number; payload: number[] }[] = [];
          for (const f of got) {
            const last = merged[merged.length - 1];
            if (f.cmd === Cmd.DATA && last && last.cmd === Cmd.DATA && last.port === f.srcPort) {
              last.payload.push(...f.payload);
            } else merged.push({ cmd: f.cmd, port: f.srcPort, payload: [...f.payload] });
            if (f.cmd !== Cmd.DATA) expect(f.payload.length).toBe(f.cmd === Cmd.DATA_ACK ? 0 : f.size);
          }
          expect(merged).toEqual(
            frames.map((f) => ({ cmd: f.cmd, port: f.srcPort, payload: [...f.payload] })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never hands over an empty piece: a header ending a chunk waits for payload bytes', () => {
    // An empty data frame is a credit request on a PROMPT_CREDIT stream (docs/protocol.md).
    const got: number[] = [];
    const dec = new FrameDecoder((f) => got.push(f.payload.length), { splitData: true });
    const f = encodeFrame(makeFrame(Cmd.DATA, 1, 2, 3, 4, new Uint8Array(100)));
    dec.push(f.subarray(0, 11));
    dec.push(f.subarray(11));
    expect(got).toEqual([100]);
  });

  it('reports a data frame cut short at the end', () => {
    const dec = new FrameDecoder(() => {}, { splitData: true });
    const f = encodeFrame(makeFrame(Cmd.DATA, 1, 2, 3, 4, new Uint8Array(100)));
    dec.push(f.subarray(0, 50));
    expect(() => dec.end()).toThrow(expect.objectContaining({ code: 'FLEX_ERR_PROTOCOL' }));
  });

  it('says how much of a data frame delivered in pieces had arrived when it was cut short', () => {
    const f = encodeFrame(makeFrame(Cmd.DATA, 1, 2, 3, 4, new Uint8Array(100)));
    // 39 payload bytes, in two pieces; then a header alone (0 of its payload).
    for (const [cuts, got] of [
      [[20, 50], 39],
      [[11], 0],
    ] as const) {
      const dec = new FrameDecoder(() => {}, { splitData: true });
      let at = 0;
      for (const c of cuts) {
        dec.push(f.subarray(at, c));
        at = c;
      }
      expect(() => dec.end()).toThrow(
        `connection ended in the middle of a frame payload: ${got} of its 100 bytes had arrived (command data)`,
      );
    }
  });
});
