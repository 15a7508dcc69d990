import { describe, expect, it } from 'vitest';
import { defaults, validateNodeOptions } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

/** validateNodeOptions() resolves every option: the defaults, and each integer option checked. */

describe('validateNodeOptions', () => {
  it('gives every default, and ip 0, domain "" and no logger', () => {
    expect(validateNodeOptions({})).toEqual({ ...defaults, ip: 0, domain: '', logger: undefined });
  });

  it('takes each integer option given, and refuses one out of its range by name', () => {
    const ints = Object.entries({ ...defaults, ip: 0 }).filter(([, v]) => typeof v === 'number');
    expect(ints).toHaveLength(22);
    for (const [name, v] of ints) {
      const given = name === 'writeBuffer' ? { reuseWrittenBuffers: true } : {};
      // A value in range, next to the default: taken as given.
      const ok = name === 'caps' ? 1 : (v as number) > 1 ? (v as number) - 1 : (v as number) + 1;
      expect(validateNodeOptions({ ...given, [name]: ok })[name as 'window']).toBe(ok);
      const err = (() => {
        try {
          validateNodeOptions({ ...given, [name]: -1 });
        } catch (e) {
          return e;
        }
      })();
      expect(err, name).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(new RegExp(`^option ${name} must be`));
    }
  });
});

describe('validateNodeOptions domain', () => {
  it('refuses a domain that is no string or holds NUL, as docs/errors.md says', () => {
    expect(validateNodeOptions({ domain: 'alice' }).domain).toBe('alice');
    expect(() => validateNodeOptions({ domain: 'ali\u0000ce' })).toThrow(ConfigError);
    expect(() => validateNodeOptions({ domain: '\u0000' })).toThrow(/option domain cannot contain NUL/);
    expect(() => validateNodeOptions({ domain: 5 as unknown as string })).toThrow(
      /^option domain must be a string, got 5$/,
    );
  });
});
