import { describe, expect, it } from 'vitest';
import { defaults, validateNodeOptions } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('node options reuseWrittenBuffers and writeBuffer', () => {
  it('default to zero-copy large writes, with the slab budget unused', () => {
    const o = validateNodeOptions({});
    expect(o.reuseWrittenBuffers).toBe(false);
    expect(defaults.reuseWrittenBuffers).toBe(false);
    expect(o.writeBuffer).toBe(defaults.writeBuffer);
  });

  it('take a budget, 0 included, with reuseWrittenBuffers', () => {
    expect(validateNodeOptions({ reuseWrittenBuffers: true }).writeBuffer).toBe(defaults.writeBuffer);
    const o = validateNodeOptions({ reuseWrittenBuffers: true, writeBuffer: 0 });
    expect(o.reuseWrittenBuffers).toBe(true);
    expect(o.writeBuffer).toBe(0);
  });

  it('refuse a budget without reuseWrittenBuffers: it would do nothing', () => {
    expect(() => validateNodeOptions({ writeBuffer: 1024 })).toThrow(ConfigError);
    expect(() => validateNodeOptions({ reuseWrittenBuffers: false, writeBuffer: 0 })).toThrow(
      /option writeBuffer applies only with reuseWrittenBuffers: true/,
    );
  });

  it("take a node's resolved options back: they carry the default budget", () => {
    // A node's `options` (ResolvedNodeOptions, assignable to NodeOptions) given to another node,
    // or to validateNodeOptions again, were refused for the writeBuffer that resolving added.
    const resolved = validateNodeOptions({ domain: 'a' });
    expect(validateNodeOptions(resolved)).toEqual(resolved);
    const honest = validateNodeOptions({ reuseWrittenBuffers: true, writeBuffer: 4096 });
    expect(validateNodeOptions(honest)).toEqual(honest);
  });

  it('refuse values of the wrong kind, naming the option', () => {
    expect(() => validateNodeOptions({ reuseWrittenBuffers: 1 as unknown as boolean })).toThrow(
      /option reuseWrittenBuffers must be a boolean/,
    );
    expect(() => validateNodeOptions({ reuseWrittenBuffers: true, writeBuffer: -1 })).toThrow(/writeBuffer/);
    expect(() => validateNodeOptions({ reuseWrittenBuffers: true, writeBuffer: 1.5 })).toThrow(/writeBuffer/);
  });
});
