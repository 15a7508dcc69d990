import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { Cmd, HEADER_SIZE, MAX_PAYLOAD } from '../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../src/wire/decoder.js';
import { encodeFrame, encodeHeader, type Frame, makeFrame } from '../../src/wire/frame.js';

/** Property tests of the frame decoder: identity with the encoder, and no surprises on garbage. */

const u16 = fc.integer({ min: 0, max: 0xffff });

/** Random frames: mostly known commands, any byte too; mostly small payloads, sometimes up to 65 535. */
const frameArb: fc.Arbitrary<Frame> = fc
  .record({
    // Mostly real commands: as a uniform byte, data (split by splitData) and data-ACK (no payload
    // whatever its size field) would each come up once in 256 frames and go all but untested.
    cmd: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...Object.values(Cmd)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    dstIP: u16,
    dstPort: u16,
    srcIP: u16,
    srcPort: u16,
    ack: u16,
    payload: fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      {
        weight: 1,
        // Varying bytes, so that a payload taken from the wrong offset cannot pass for the right one.
        arbitrary: fc
          .integer({ min: 0, max: MAX_PAYLOAD })
          .map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >>> 8) + n) & 0xff)),
      },
    ),
  })
  .map((r) =>
    r.cmd === Cmd.DATA_ACK
      ? makeFrame(r.cmd, r.dstIP, r.dstPort, r.srcIP, r.srcPort, new Uint8Array(0), r.ack)
      : makeFrame(r.cmd, r.dstIP, r.dstPort, r.srcIP, r.srcPort, r.payload),
  );

/** A frame as a plain value; the payload as hex, since deep-comparing 64 KiB arrays is slow. */
function plain(f: Frame) {
  return { ...f, payload: Buffer.from(f.payload).toString('hex') };
}

function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = offsets.map((o) => o % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe('FrameDecoder properties', () => {
  it('decode(encode(frames)) is the identity, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, offsets) => {
          const encoded = frames.map(encodeFrame);
          const stream = new Uint8Array(encoded.reduce((n, e) => n + e.length, 0));
          let off = 0;
          for (const e of encoded) {
            stream.set(e, off);
            off += e.length;
          }
          const got: Frame[] = [];
          const dec = new FrameDecoder((f) => got.push(f));
          for (const c of cut(stream, offsets)) dec.push(c);
          dec.end();
          expect(got.map(plain)).toEqual(frames.map(plain));
          // And each as one WebSocket message.
          expect(encoded.map((e) => plain(decodeMessage(e)))).toEqual(frames.map(plain));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('with splitData, the pieces of each data frame join up to the frame, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, offsets) => {
          const stream = Buffer.concat(frames.map(encodeFrame));
          const got: Frame[] = [];
          const dec = new FrameDecoder(
            (f) => {
              const last = got[got.length - 1];
              // A piece continues the previous data frame until that one has all its bytes.
              if (f.cmd === Cmd.DATA && last?.cmd === Cmd.DATA && last.payload.length < last.size) {
                expect(f.size).toBe(last.size);
                last.payload = Buffer.concat([last.payload, f.payload]);
              } else got.push({ ...f, payload: Buffer.from(f.payload) });
            },
            { splitData: true },
          );
          for (const c of cut(stream, offsets)) {
            dec.push(c);
            expect(dec.buffered).toBeLessThanOrEqual(HEADER_SIZE + MAX_PAYLOAD);
          }
          dec.end();
          expect(got.map(plain)).toEqual(frames.map(plain));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('every byte is accounted for: what decodes re-encodes to the input (a prefix of it on error)', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.option(fc.integer({ min: 0, max: MAX_PAYLOAD }), { nil: undefined }),
        fc.boolean(),
        (frames, junk, offsets, maxPayload, splitData) => {
          // Valid frames, then arbitrary bytes (a partial frame, an oversized size field, more frames).
          const input = Buffer.concat([...frames.map(encodeFrame), junk]);
          const got: Frame[] = [];
          const dec = new FrameDecoder(
            (f) => {
              const last = got[got.length - 1];
              if (
                splitData &&
                f.cmd === Cmd.DATA &&
                last?.cmd === Cmd.DATA &&
                last.payload.length < last.size
              ) {
                last.payload = Buffer.concat([last.payload, f.payload]);
              } else got.push({ ...f, payload: Buffer.from(f.payload) });
            },
            { maxPayload, splitData },
          );
          let failed = false;
          try {
            for (const c of cut(input, offsets)) dec.push(c);
            dec.end();
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
            failed = true;
          }
          // A data frame whose pieces stopped at the error is incomplete: compare what it has.
          const out = Buffer.concat(
            got.map((f) => {
              const head = Buffer.from(encodeHeader(f));
              return Buffer.concat([head, f.payload]);
            }),
          );
          if (failed) expect(out.toString('hex')).toBe(input.subarray(0, out.length).toString('hex'));
          else expect(out.toString('hex')).toBe(input.toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes give frames or a ProtocolError, nothing else, and buffered stays bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
        fc.option(fc.integer({ min: 0, max: MAX_PAYLOAD }), { nil: undefined }),
        (chunks, maxPayload) => {
          const dec = new FrameDecoder(
            (f) => {
              expect(f.payload.length).toBe(f.cmd === Cmd.DATA_ACK ? 0 : f.size);
            },
            maxPayload === undefined ? {} : { maxPayload },
          );
          try {
            for (const c of chunks) {
              dec.push(c);
              expect(dec.buffered).toBeLessThanOrEqual(HEADER_SIZE + MAX_PAYLOAD);
            }
            dec.end();
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a large announced payload is held up to its size and no further', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_PAYLOAD }), fc.nat(), (size, take) => {
        const frame = new Uint8Array(HEADER_SIZE + size);
        frame.set([Cmd.DATA, 0, 1, 0, 2, 0, 3, 0, 4, size >>> 8, size & 0xff]);
        const dec = new FrameDecoder(() => {});
        const n = take % frame.length;
        dec.push(frame.subarray(0, n));
        expect(dec.buffered).toBe(n);
        dec.push(frame.subarray(n));
        expect(dec.buffered).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('decodeMessage on random bytes gives a frame or a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (msg) => {
        try {
          const f = decodeMessage(msg);
          expect(HEADER_SIZE + f.payload.length).toBe(msg.length);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});
