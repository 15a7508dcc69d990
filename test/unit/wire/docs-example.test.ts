import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildRequest,
  deriveKey,
  encodeRequestJson,
  sealRequest,
  sealResponse,
} from '../../../src/wire/admission/index.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { encodeReset } from '../../../src/wire/reset.js';
import { toHex } from './vectors.js';

/** The worked example of docs/protocol.md 3.7, recomputed so the document cannot drift. */

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

/** The hex of one `frame(N):` block of the document, whitespace removed. */
function docFrame(length: number): string {
  const start = doc.indexOf(`frame(${length}):`);
  expect(start).toBeGreaterThan(0);
  const block = doc.slice(start + `frame(${length}):`.length, doc.indexOf('```', start));
  return block.replace(/\s+/g, '');
}

const range = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => from + i);

describe('docs/protocol.md worked example', () => {
  it('request: Sum, JSON, key and the 187-byte frame', async () => {
    const init = { domain: 'docs', mac: 'm1', timestamp: 1800000000123456789n };
    const req = await buildRequest('docs-pwd', init);
    expect(doc).toContain(`Sum       : ${req.sum}`);
    expect(doc).toContain(`JSON (132): ${encodeRequestJson(req)}`);
    expect(doc).toContain(`AES key   : ${toHex(await deriveKey('docs-pwd', range(0x20, 16)))}`);
    const frame = await sealRequest('docs-pwd', init, {
      salt: range(0x20, 16),
      nonce: range(0x40, 12),
      headerRandom: new Uint8Array(8),
    });
    expect(frame.length).toBe(187);
    expect(toHex(frame)).toBe(docFrame(187));
  });

  it('response: IP 7, 106-byte frame', async () => {
    expect(doc).toContain(`AES key   : ${toHex(await deriveKey('docs-pwd', range(0x60, 16)))}`);
    const frame = await sealResponse(
      'docs-pwd',
      { errCode: 0, ip: 7 },
      { salt: range(0x60, 16), nonce: range(0x80, 12), headerRandom: new Uint8Array(8) },
    );
    expect(toHex(frame)).toBe(docFrame(106));
  });

  it('extension example: open and ACK with a caps byte, and a reset', () => {
    const spaced = (b: Uint8Array, ...cuts: number[]) =>
      [0, ...cuts].map((c, i) => toHex(b.subarray(c, cuts[i] ?? b.length))).join(' ');
    expect(doc).toContain(`\`${spaced(encodeOpen({ domain: 'docs', window: 65536, caps: 3 }), 4, 5, 9)}\``);
    expect(doc).toContain(`\`${spaced(encodeOpenAck({ window: 65536, caps: 2 }), 1, 5)}\``);
    expect(doc).toContain(`\`${spaced(encodeReset(2, 'window'), 4)}\``);
  });
});
