import { afterEach, describe, expect, it } from 'vitest';
import { normalizeDomain, Switcher } from '../../../src/index.js';

/**
 * normalizeDomain() answers null for a name no switcher admits (docs/manual.md, section 7), and
 * every error flexmux raises is a FlexError (docs/errors.md). Given something that is not a
 * string, as a JavaScript caller may, it threw a RangeError ("Invalid array length") from inside,
 * and with it the switcher's calls that take a domain: kick(5), client(5), streams(5).
 */

const open: Switcher[] = [];
afterEach(async () => {
  for (const sw of open.splice(0)) await sw.close();
});

const notStrings: unknown[] = [5, null, undefined, {}, ['alice'], true];

describe('a domain argument that is not a string', () => {
  it('is no domain to normalizeDomain()', () => {
    for (const v of notStrings) expect(normalizeDomain(v as never), String(v)).toBeNull();
  });

  it("is nobody's to the switcher's kick(), client() and streams()", () => {
    const sw = new Switcher({ password: 'p' });
    open.push(sw);
    for (const v of notStrings.filter((x) => x !== undefined)) {
      expect(sw.kick(v as never), String(v)).toBe(false);
      expect(sw.client(v as never), String(v)).toBeUndefined();
      expect(sw.streams(v as never), String(v)).toBeUndefined();
    }
  });
});
