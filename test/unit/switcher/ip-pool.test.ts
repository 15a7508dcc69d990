import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { domainFingerprint, IpPool } from '../../../src/switcher/ip-pool.js';

/** The home slot of `domain` in a pool of min..max. */
const home = (domain: string, min: number, max: number): number =>
  min + (domainFingerprint(domain) % (max - min + 1));

describe('IpPool by domain', () => {
  it('gives a domain its home slot, again after it released it', () => {
    const p = new IpPool(1, 1000, 'by-domain');
    const ip = p.take('alice');
    expect(ip).toBe(home('alice', 1, 1000));
    expect(p.release(ip)).toBe(true);
    expect(p.take('alice')).toBe(ip);
  });

  it('is the same in a new pool whatever the order of arrival (a switcher restart)', () => {
    const names = Array.from({ length: 50 }, (_, i) => `node-${i}`);
    const first = new IpPool(1, 0xfffe, 'by-domain');
    const before = new Map(names.map((n) => [n, first.take(n)]));
    const second = new IpPool(1, 0xfffe, 'by-domain');
    const after = new Map([...names].reverse().map((n) => [n, second.take(n)]));
    expect(after).toEqual(before);
    expect(new Set(before.values()).size).toBe(names.length);
  });

  it('moves on from a held home slot, and skips slots another domain held while unheld ones remain', () => {
    // A pool of 4 slots, so that homes collide: find two domains with the same home.
    const names = Array.from({ length: 40 }, (_, i) => `d${i}`);
    const [a, b] = names.filter((n) => home(n, 1, 4) === home(names[0]!, 1, 4));
    const h = home(a!, 1, 4);
    const next = (ip: number): number => (ip === 4 ? 1 : ip + 1);
    const p = new IpPool(1, 4, 'by-domain');
    expect(p.take(a)).toBe(h);
    expect(p.take(b)).toBe(next(h));
    // a leaves; b's next admission must not take a's slot while other slots were never held.
    expect(p.release(h)).toBe(true);
    const c = names.find((n) => home(n, 1, 4) === h && n !== a && n !== b)!;
    expect(p.take(c)).toBe(next(next(h)));
    // a comes back to its own slot.
    expect(p.take(a)).toBe(h);
  });

  it('hands out slots another domain held once every slot was held, and -1 when all are in use', () => {
    const p = new IpPool(1, 3, 'by-domain');
    const ips = ['x', 'y', 'z'].map((n) => p.take(n));
    expect(new Set(ips).size).toBe(3);
    expect(p.take('w')).toBe(-1);
    expect(p.release(ips[1]!)).toBe(true);
    expect(p.take('w')).toBe(ips[1]);
    expect(p.inUse).toBe(3);
  });

  it('hashes names stably (the home slot is part of the contract)', () => {
    // FNV-1a 32 of "alice" (computed independently) and of "": a change of hash fails here first.
    expect(domainFingerprint('alice')).toBe(0x872213e7);
    expect(domainFingerprint('')).toBe(0x811c9dc5);
  });
});

// The manual: IpPool(min, max, mode), IPs 1..65534, mode 'by-domain' or 'sequential'. An unknown
// mode was taken for sequential without a word, and a range outside 1..65534 or upside down
// made a pool that handed out IPs no node may have (0, the switcher's 0xFFFF), or none.
describe('IpPool arguments', () => {
  it('refuses a range outside 1..65534 or upside down, and an unknown mode', () => {
    for (const [min, max] of [
      [0, 10],
      [1, 0xffff],
      [5, 1],
      [1.5, 10],
    ]) {
      expect(() => new IpPool(min, max), `${min}..${max}`).toThrow(ConfigError);
    }
    expect(() => new IpPool(1, 10, 'random' as never)).toThrow(
      new ConfigError('new IpPool() mode must be one of by-domain, sequential, got "random" (a string)'),
    );
    expect(new IpPool(1, 1).take()).toBe(1);
    expect(new IpPool().take()).toBe(1);
  });
});
