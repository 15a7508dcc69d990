// src/util/slab.ts: small frame arrays cut from a shared off-heap slab.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { allocBytes } from '../../src/util/slab.js';
import { HEADER_SIZE } from '../../src/wire/constants.js';
import { header, readHeader } from '../../src/wire/frame.js';
import { decodeOpen, decodeOpenAck, encodeOpen, encodeOpenAck } from '../../src/wire/open.js';

describe('allocBytes', () => {
  it('hands out zero-filled regions that never overlap', () => {
    const views = Array.from({ length: 2000 }, (_, i) => allocBytes(1 + (i % 64)));
    for (const [i, v] of views.entries()) {
      expect(v.length).toBe(1 + (i % 64));
      expect(v.every((b) => b === 0)).toBe(true);
      v.fill(i % 255 || 1);
    }
    // Every view still holds only what was written into it: no region was handed out twice.
    for (const [i, v] of views.entries()) expect(v.every((b) => b === (i % 255 || 1))).toBe(true);
  });

  it('cuts small arrays from one shared slab and allocates larger ones on their own', () => {
    const a = allocBytes(11);
    const b = allocBytes(11);
    expect(a.buffer.byteLength).toBeGreaterThan(64);
    // Either both come from the same slab, or the slab was full and b starts a new one.
    if (a.buffer === b.buffer) expect(b.byteOffset).toBe(a.byteOffset + 11);
    else expect(b.byteOffset).toBe(0);
    const big = allocBytes(65);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(65);
  });

  it('gives frame headers and open payloads that decode and stay independent', () => {
    const h1 = header(6, 1, 2, 3, 4, 5);
    const h2 = header(7, 0xffff, 0xfffe, 0xfffd, 0xfffc, 0xfffb);
    expect(h1.length).toBe(HEADER_SIZE);
    expect(readHeader(h1, 0)).toMatchObject({ cmd: 6, dstIP: 1, dstPort: 2, srcIP: 3, srcPort: 4, size: 5 });
    expect(readHeader(h2, 0)).toMatchObject({ cmd: 7, dstIP: 0xffff, srcPort: 0xfffc, size: 0xfffb });
    const open = encodeOpen({ domain: 'docs', window: 65536, caps: 3 });
    expect(decodeOpen(open)).toEqual({ domain: 'docs', window: 65536, caps: 3 });
    expect(decodeOpenAck(encodeOpenAck({ window: 1024, caps: 1 }))).toMatchObject({
      ok: true,
      window: 1024,
      caps: 1,
    });
  });

  it('reaches a Node writable stream as exactly its own bytes', async () => {
    const got: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        got.push(chunk);
        done();
      },
    });
    const parts = [header(6, 1, 2, 3, 4, 3), allocBytes(3).fill(9)];
    for (const p of parts) sink.write(p);
    await new Promise<void>((resolve) => sink.end(resolve));
    expect(Buffer.concat(got)).toEqual(Buffer.from([6, 0, 1, 0, 2, 0, 3, 0, 4, 0, 3, 9, 9, 9]));
  });
});
