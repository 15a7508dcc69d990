import { describe, expect, it } from 'vitest';
import { switcherDefaults, validateSwitcherOptions } from '../../../src/switcher/config.js';

describe('switcher options', () => {
  it('fills every default from the frozen object', () => {
    const o = validateSwitcherOptions({ password: '' });
    expect(Object.isFrozen(switcherDefaults)).toBe(true);
    for (const [k, v] of Object.entries(switcherDefaults)) expect(o[k as keyof typeof o]).toBe(v);
    expect(typeof o.clock()).toBe('bigint');
    expect(typeof o.monotonicClock()).toBe('number');
    expect(o.access).toEqual({});
  });

  it('names the bad option', () => {
    expect(() => validateSwitcherOptions({} as never)).toThrow(/password/);
    expect(() => validateSwitcherOptions({ password: 'x', admissionTimeout: 0 })).toThrow(/admissionTimeout/);
    expect(() => validateSwitcherOptions({ password: 'x', maxClients: 70_000 })).toThrow(/maxClients/);
    expect(() => validateSwitcherOptions({ password: 'x', failedAdmissionRate: -1 })).toThrow(
      /failedAdmissionRate/,
    );
    expect(() => validateSwitcherOptions({ password: 'x', clock: 5 as never })).toThrow(/clock/);
    expect(() => validateSwitcherOptions({ password: 'x', monotonicClock: 5 as never })).toThrow(
      /monotonicClock/,
    );
  });
});
