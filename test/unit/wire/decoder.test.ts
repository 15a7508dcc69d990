import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { HEADER_SIZE } from '../../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';
import { concat, type FramesFile, frameBytes, loadVector, sha256Hex, toHex } from './vectors.js';

const vectors = loadVector<FramesFile>('frames.json');
const golden = vectors.frames.map((v) => ({ name: v.name, bytes: frameBytes(v, v.payloadOmitted === true) }));
const all = concat(golden.map((g) => g.bytes));

/** Frames as comparable plain values (the payload as hex, or its SHA-256 when large). */
function summary(f: Frame): string {
  const body = f.payload.length > 64 ? sha256Hex(f.payload) : toHex(f.payload);
  return `${f.cmd}|${f.dstIP}:${f.dstPort}|${f.srcIP}:${f.srcPort}|${f.size}|${f.payload.length}|${body}`;
}

const expected = golden.map((g) => summary(decodeMessage(g.bytes)));

function decodeChunks(chunks: readonly Uint8Array[]): string[] {
  const out: string[] = [];
  const d = new FrameDecoder((f) => out.push(summary(f)));
  for (const c of chunks) {
    d.push(c);
    if (d.buffered > HEADER_SIZE + 0xffff) throw new Error(`decoder holds ${d.buffered} bytes`);
  }
  d.end();
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed, so empty chunks occur too). */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...offsets].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  chunks.push(bytes.subarray(prev));
  return chunks;
}

/**
 * Every offset for frames up to 4 KiB. Inside the 16 and 64 KiB payloads every split in the middle
 * takes the same path (copy the rest into the pending body), and trying all 65 546 costs a 64 KiB
 * allocation and hash each (measured: 20 s for that frame alone). Those frames take every offset
 * in the header and in the first and last KiB, and every 97th offset in between.
 */
function splitPoints(length: number): number[] {
  const points: number[] = [];
  for (let k = 0; k <= length; k++) {
    if (length <= 4096 || k < HEADER_SIZE + 1024 || k > length - 1024 || k % 97 === 0) points.push(k);
  }
  return points;
}

describe('FrameDecoder chunking', () => {
  for (const [i, g] of golden.entries()) {
    it(`${g.name}: same frame whatever byte offset it is split at`, () => {
      for (const k of splitPoints(g.bytes.length)) {
        const got = decodeChunks([g.bytes.subarray(0, k), g.bytes.subarray(k)]);
        if (got.length !== 1 || got[0] !== expected[i]) {
          expect({ split: k, got }).toEqual({ split: k, got: [expected[i]] });
        }
      }
    });
  }

  it('every small golden frame fed one byte at a time', () => {
    for (const [i, g] of golden.entries()) {
      if (g.bytes.length > 4096) continue;
      const bytes = Array.from(g.bytes, (_, k) => g.bytes.subarray(k, k + 1));
      expect(decodeChunks(bytes)).toEqual([expected[i]]);
    }
  });

  it('the concatenation of all golden frames, re-chunked at random', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: all.length }), { maxLength: 64 }), (offsets) => {
        expect(decodeChunks(cut(all, offsets))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('reads headers correctly from a view that starts mid-ArrayBuffer (pooled Node Buffers)', () => {
    const backing = new Uint8Array(all.length + 7);
    backing.set(all, 7);
    const view = Buffer.from(backing.buffer, 7, all.length);
    expect(decodeChunks([view])).toEqual(expected);
  });

  it('hands out payloads as views of the chunk when a frame lies inside one chunk (zero copy)', () => {
    const bytes = encodeFrame(makeFrame(6, 1, 2, 3, 4, new Uint8Array([1, 2, 3])));
    let payload: Uint8Array | null = null;
    new FrameDecoder((f) => {
      payload = f.payload;
    }).push(bytes);
    expect(payload!.buffer).toBe(bytes.buffer);
  });

  it('end() inside a header, inside a payload, or right after a whole header is a ProtocolError', () => {
    const frame = encodeFrame(makeFrame(6, 1, 2, 3, 4, new Uint8Array(10)));
    for (const k of [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 5]) {
      const d = new FrameDecoder(() => {});
      d.push(frame.subarray(0, k));
      expect(d.buffered).toBe(k);
      expect(() => d.end()).toThrow(ProtocolError);
      expect(d.buffered).toBe(0);
    }
  });

  it('end() says how much of the frame cut short had arrived', () => {
    // A peer that crashed mid-write, a proxy that cut the link: the error names the bytes that came.
    const frame = encodeFrame(makeFrame(2, 1, 2, 3, 4, new Uint8Array(10)));
    const cases: [number, string][] = [
      [1, 'header: 1 of its 11 bytes had arrived'],
      [HEADER_SIZE - 1, 'header: 10 of its 11 bytes had arrived'],
      [HEADER_SIZE, 'payload: 0 of its 10 bytes had arrived (command open)'],
      [HEADER_SIZE + 5, 'payload: 5 of its 10 bytes had arrived (command open)'],
    ];
    for (const [k, what] of cases) {
      const d = new FrameDecoder(() => {});
      d.push(frame.subarray(0, k));
      expect(() => d.end()).toThrow(`connection ended in the middle of a frame ${what}`);
      // Told once: the decoder forgot the partial frame.
      expect(() => d.end()).not.toThrow();
    }
  });

  it('a payload above a configured maxPayload is a ProtocolError, in one chunk or split', () => {
    const frame = encodeFrame(makeFrame(6, 1, 2, 3, 4, new Uint8Array(100)));
    expect(() => new FrameDecoder(() => {}, { maxPayload: 99 }).push(frame)).toThrow(ProtocolError);
    const d = new FrameDecoder(() => {}, { maxPayload: 99 });
    d.push(frame.subarray(0, 5));
    expect(() => d.push(frame.subarray(5))).toThrow(ProtocolError);
    expect(() => decodeMessage(frame, 99)).toThrow(ProtocolError);
  });
});
