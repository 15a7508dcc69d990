import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { decodeObject, goObject } from '../../src/wire/admission/index.js';
import { normalizeDomain } from '../../src/wire/domain.js';
import {
  decodeOpen,
  decodeOpenAck,
  encodeOpen,
  encodeOpenAck,
  encodeOpenError,
  negotiateWindow,
  rewriteOpenDomain,
} from '../../src/wire/open.js';
import { decodeReset, encodeReset } from '../../src/wire/reset.js';

/** Property tests of the payload codecs and the admission JSON reader. */

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const caps = fc.integer({ min: 0, max: 255 });
const domain = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000'));

describe('payload codec properties', () => {
  it('OpenStream and ACK round-trip; decoders never throw on any bytes', () => {
    fc.assert(
      fc.property(domain, u32, caps, fc.uint8Array({ maxLength: 80 }), (d, window, c, junk) => {
        expect(decodeOpen(encodeOpen({ domain: d, window, caps: c }))).toEqual({
          domain: d,
          window,
          caps: c,
        });
        expect(decodeOpen(encodeOpen({ domain: d, window }))).toEqual({ domain: d, window, caps: 0 });
        expect(decodeOpenAck(encodeOpenAck({ window, caps: c }))).toEqual({ ok: true, window, caps: c });
        const r = decodeOpen(rewriteOpenDomain(encodeOpen({ domain: d, window, caps: c }), 'x'));
        expect(r).toEqual({ domain: 'x', window, caps: c });
        decodeOpen(junk);
        decodeOpenAck(junk);
      }),
      { numRuns: 300 },
    );
  });

  it('an error text round-trips unless it would read as success', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), (text) => {
        if (text.startsWith('\u0000')) return;
        expect(decodeOpenAck(encodeOpenError(text))).toEqual({ ok: false, error: text });
      }),
    );
  });

  it('negotiateWindow never exceeds either set window and is never negative', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        const w = negotiateWindow(a, b);
        expect(w).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThan(2 ** 31);
        if (w > 0) expect(w === a || w === b).toBe(true);
      }),
    );
  });

  it('reset round-trips up to 1024 bytes and only ever truncates', () => {
    fc.assert(
      fc.property(u32, fc.string({ unit: 'grapheme', maxLength: 700 }), (code, message) => {
        const out = encodeReset(code, message);
        expect(out.length).toBeLessThanOrEqual(4 + 1024);
        const back = decodeReset(out);
        expect(back.code).toBe(code);
        expect(message.startsWith(back.message)).toBe(true);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        try {
          decodeReset(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
    );
  });

  it('a normalised domain is a fixed point and matches the documented pattern', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 70 }), (s) => {
        const n = normalizeDomain(s);
        if (n === null) return;
        expect(normalizeDomain(n)).toBe(n);
        expect(n).toMatch(/^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/);
        expect(['local', 'localhost']).not.toContain(n);
      }),
      { numRuns: 300 },
    );
  });
});

describe('admission JSON properties', () => {
  const SCHEMA = { Domain: 'string', Timestamp: 'int64' } as const;

  it('reads back every string and int64 Go-style JSON can carry', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (s, ts) => {
          const text = new TextEncoder().encode(
            goObject([
              ['Domain', s],
              ['Timestamp', ts],
            ]),
          );
          const want = s.replace(
            /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
            '\ufffd',
          );
          expect(decodeObject(text, SCHEMA)).toEqual({ Domain: want, Timestamp: ts });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with JSON.parse on validity, and never throws anything but ProtocolError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ maxLength: 40 })), (text) => {
        let ok = true;
        try {
          JSON.parse(text);
        } catch {
          ok = false;
        }
        try {
          decodeObject(new TextEncoder().encode(text), {});
          // Valid for us means valid JSON; the converse fails only for non-objects (type errors).
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          if (ok) expect(text.trim().startsWith('{') || text.trim() === 'null').toBe(false);
          return;
        }
        expect(ok).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
