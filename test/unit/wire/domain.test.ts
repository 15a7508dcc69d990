import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeDomain, sameDomain } from '../../../src/wire/domain.js';
import {
  goFoldName,
  goLowerCodePoint,
  goToLower,
  goTrimSpace,
  isGoSpace,
} from '../../../src/wire/unicase.js';
import { clipText } from '../../../src/wire/utf8.js';
import { type DomainVector, fromHex, loadVector } from './vectors.js';

const file = loadVector<{ counts: { total: number }; domains: DomainVector[] }>('domains.json');

describe("domains.json: Go's verdict on every case", () => {
  it('has every case', () => {
    expect(file.domains).toHaveLength(file.counts.total);
  });

  for (const v of file.domains) {
    // inputHex is authoritative. ignoreBOM: a default TextDecoder would silently drop the
    // leading U+FEFF of the "\ufeffbom" case, turning a rejected domain into an accepted one.
    const input = new TextDecoder('utf-8', { ignoreBOM: true }).decode(fromHex(v.inputHex));
    it(`${JSON.stringify(v.input).slice(0, 40)} -> ${v.normalised === null ? `rejected (${v.rule})` : v.normalised}`, () => {
      expect(input).toBe(v.input);
      expect(goToLower(input)).toBe(v.afterLower);
      expect(goTrimSpace(v.afterLower)).toBe(v.afterTrim);
      expect(normalizeDomain(input)).toBe(v.normalised);
    });
  }
});

describe('Go case mapping and white space vs JavaScript', () => {
  it('lowers U+0130 to plain i, where toLowerCase() gives i + U+0307', () => {
    expect('\u0130x'.toLowerCase()).toBe('i\u0307x');
    expect(goToLower('\u0130x')).toBe('ix');
    expect(normalizeDomain('\u0130x')).toBe('ix');
  });

  // The two facts normalizeDomain's fast path rests on, over every code point.
  it('only U+0130 and U+212A lower from non-ASCII to ASCII (every code point checked)', () => {
    const toAscii: number[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (goLowerCodePoint(cp) < 0x80) toAscii.push(cp);
    }
    expect(toAscii).toEqual([0x130, 0x212a]);
  });

  it('lowering maps white space to itself and nothing else to white space (every code point)', () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const lower = goLowerCodePoint(cp);
      if (isGoSpace(cp) || isGoSpace(lower)) expect([cp, lower]).toEqual([cp, cp]);
    }
  });

  it('keeps the single code point of one-to-one mappings and the letter itself otherwise', () => {
    expect(goLowerCodePoint(0x3a3)).toBe(0x3c3); // Σ -> σ, never the final form ς
    expect(goLowerCodePoint(0x1c5)).toBe(0x1c6); // title case ǅ -> ǆ
    expect(goLowerCodePoint(0x10400)).toBe(0x10428); // Deseret, outside the BMP
    expect(goLowerCodePoint(0xdf)).toBe(0xdf);
  });

  it("White_Space is JavaScript's trim() set plus U+0085, minus U+FEFF (every BMP code point)", () => {
    const diff: number[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      const js = String.fromCharCode(cp).trim() === '';
      if (js !== isGoSpace(cp)) diff.push(cp);
    }
    expect(diff).toEqual([0x85, 0xfeff]);
  });

  it("trims with Go's set", () => {
    expect(goTrimSpace('\u0085nel\u2029')).toBe('nel');
    expect(goTrimSpace('\ufeffbom')).toBe('\ufeffbom');
    expect(goTrimSpace('   ')).toBe('');
  });

  it('folds JSON member names as encoding/json does', () => {
    expect(goFoldName('timestamp')).toBe('TIMESTAMP');
    expect(goFoldName('\u017Fum')).toBe('SUM'); // ſ
    expect(goFoldName('Doma\u0131n')).toBe('DOMAIN'); // dotless ı
    expect(goFoldName('\u212A')).toBe('K'); // KELVIN SIGN
  });
});

/** Go's algorithm written out literally, to check the fast path against. */
function reference(input: string): string | null {
  const d = goTrimSpace(goToLower(input));
  const bytes = new TextEncoder().encode(d).length;
  if (bytes === 0 || bytes > 63 || d === 'local' || d === 'localhost') return null;
  if (/^[-_]|[-_]$/.test(d) || !/^[a-z0-9_-]+$/.test(d)) return null;
  return d;
}

describe('normalizeDomain edge cases', () => {
  it('agrees with the literal Go algorithm', () => {
    const alphabet = [
      'a',
      'Z',
      '0',
      '-',
      '_',
      ' ',
      '\u0085',
      '\ufeff',
      '\u0130',
      '\u212a',
      '\u00e9',
      '.',
      '\ud800',
      '\u3000',
    ];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...alphabet), { maxLength: 70 }),
        fc.string({ unit: 'binary', maxLength: 70 }),
        (parts, s) => {
          const t = parts.join('');
          expect(normalizeDomain(t)).toBe(reference(t));
          expect(normalizeDomain(s)).toBe(reference(s));
        },
      ),
      { numRuns: 500 },
    );
    for (const v of file.domains) expect(reference(v.input)).toBe(v.normalised);
  });

  it('decides a 64 KiB domain from a peer in linear time', () => {
    const huge = `${' '.repeat(30000)}${'\u212a'.repeat(60)}${' '.repeat(30000)}`;
    expect(normalizeDomain(huge)).toBe('k'.repeat(60));
    expect(normalizeDomain('a'.repeat(65535))).toBeNull();
  });

  it('counts the 63-byte limit in UTF-8 after lower-casing and trimming', () => {
    expect(normalizeDomain('\u212a'.repeat(63))).toBe('k'.repeat(63));
    expect(normalizeDomain('\u212a'.repeat(64))).toBeNull();
    expect(normalizeDomain(` ${'a'.repeat(63)}\u3000`)).toBe('a'.repeat(63));
  });

  it('reserves exactly local and localhost', () => {
    expect(normalizeDomain(' LOCAL ')).toBeNull();
    expect(normalizeDomain('localhost1')).toBe('localhost1');
  });

  it('rejects lone surrogates and non-ASCII letters', () => {
    expect(normalizeDomain('a\ud800')).toBeNull();
    expect(normalizeDomain('\u00e4')).toBeNull();
  });

  it('compares domains after normalisation', () => {
    expect(sameDomain('Py-Node', ' py-node ')).toBe(true);
    expect(sameDomain('\u212aey', 'KEY')).toBe(true);
    expect(sameDomain('a.b', 'a.b')).toBe(false);
  });
});

describe('clipText: peer text shown in logs', () => {
  it('keeps short text, clips long text to 80 characters plus its length, never half a pair', () => {
    expect(clipText('alice')).toBe('alice');
    expect(clipText('a'.repeat(80))).toBe('a'.repeat(80));
    expect(clipText('a'.repeat(81))).toBe(`${'a'.repeat(80)}… (81 characters)`);
    const pairs = `${'a'.repeat(79)}${'\u{1F600}'.repeat(10)}`;
    expect(clipText(pairs)).toBe(`${'a'.repeat(79)}… (${pairs.length} characters)`);
  });
});
