import { describe, expect, it } from 'vitest';
import { FailureLimiter, ReplayCache } from '../../../src/switcher/guards.js';
import { hostOf, limitKey, parseIPv6 } from '../../../src/switcher/host-key.js';

const MIN = 60_000_000_000n;

describe('ReplayCache', () => {
  it('refuses a key seen inside the window and accepts it after expiry', () => {
    const c = new ReplayCache(100, 5n * MIN);
    const t = 1_000n * MIN;
    expect(c.admit(['sum:a', 'salt:1'], t, t)).toBe(true);
    expect(c.admit(['sum:a', 'salt:2'], t, t + MIN)).toBe(false);
    expect(c.admit(['sum:b', 'salt:1'], t, t + MIN)).toBe(false);
    expect(c.admit(['sum:c', 'salt:3'], t, t + MIN)).toBe(true);
    // Past timestamp + 5 min the clock check refuses a replay anyway; the entry may go.
    expect(c.admit(['sum:a', 'salt:1'], t, t + 5n * MIN + 1n)).toBe(true);
  });

  it('stays bounded, forgetting the oldest first', () => {
    const c = new ReplayCache(4, 5n * MIN);
    const t = 1_000n * MIN;
    for (let i = 0; i < 10; i++) expect(c.admit([`k${i}`], t, t)).toBe(true);
    expect(c.size).toBe(4);
    expect(c.admit(['k9'], t, t)).toBe(false);
    expect(c.admit(['k0'], t, t)).toBe(true);
  });

  it('when full, forgets expired entries before a live one, whatever their order of arrival', () => {
    // A node whose clock runs 4 min ahead is remembered first, for 9 min; two stamped 4 min
    // behind come next and expire after 1 min. Two minutes on, a new admission fills the cache:
    // the expired ones must go, not the live one, or its frame could be replayed until it expires.
    const c = new ReplayCache(3, 5n * MIN);
    const t = 1_000n * MIN;
    expect(c.admit(['ahead'], t + 4n * MIN, t)).toBe(true);
    expect(c.admit(['behind-1'], t - 4n * MIN, t)).toBe(true);
    expect(c.admit(['behind-2'], t - 4n * MIN, t)).toBe(true);
    expect(c.admit(['new'], t + 2n * MIN, t + 2n * MIN)).toBe(true);
    expect(c.size).toBeLessThanOrEqual(3);
    expect(c.admit(['ahead'], t + 4n * MIN, t + 2n * MIN)).toBe(false);
  });

  it('is disabled with capacity 0', () => {
    const c = new ReplayCache(0, MIN);
    expect(c.admit(['a'], 0n, 0n)).toBe(true);
    expect(c.admit(['a'], 0n, 0n)).toBe(true);
  });
});

describe('FailureLimiter', () => {
  it('allows a burst of failures, then refuses until tokens come back', () => {
    const l = new FailureLimiter(3, 1, 100);
    for (let i = 0; i < 3; i++) {
      expect(l.allows('h', 0)).toBe(true);
      l.fail('h', 0);
    }
    expect(l.allows('h', 0)).toBe(false);
    expect(l.allows('other', 0)).toBe(true);
    expect(l.allows('h', 999)).toBe(false);
    expect(l.allows('h', 1000)).toBe(true);
    // Fully refilled buckets are forgotten.
    expect(l.allows('h', 10_000)).toBe(true);
    expect(l.size).toBe(0);
  });

  it('is bounded, forgetting the least recently failing host', () => {
    const l = new FailureLimiter(1, 0, 3);
    for (const h of ['a', 'b', 'c', 'd']) l.fail(h, 0);
    expect(l.size).toBe(3);
    expect(l.allows('a', 0)).toBe(true);
    expect(l.allows('d', 0)).toBe(false);
  });

  it('lets a crowd from one host through its tokens at a time, at a cost linear in the crowd', async () => {
    const l = new FailureLimiter(10, 1, 100);
    let looks = 0;
    const clock = (): number => {
      looks++;
      return 0;
    };
    let inCheck = 0;
    let most = 0;
    const N = 400;
    const all = await Promise.all(
      Array.from({ length: N }, async () => {
        const ok = await l.reserve('nat', clock);
        inCheck++;
        most = Math.max(most, inCheck);
        for (let i = 0; i < 3; i++) await null; // the check itself
        inCheck--;
        l.release('nat');
        return ok;
      }),
    );
    expect(all.every(Boolean)).toBe(true);
    expect(most).toBe(10);
    // Each attempt looks at its tokens about twice. Before: every release woke every waiter,
    // 400 attempts looked ~8,000 times (4,000 took 1.4 s of switcher CPU in a herd).
    expect(looks).toBeLessThan(3 * N);
  });

  it('lets waiters in again as tokens come back, and refuses them once none are left', async () => {
    const l = new FailureLimiter(2, 1, 100);
    let t = 0;
    const first = [await l.reserve('h', () => t), await l.reserve('h', () => t)];
    expect(first).toEqual([true, true]);
    const waiting = [l.reserve('h', () => t), l.reserve('h', () => t), l.reserve('h', () => t)];
    // Both in check fail: no token left, and nothing in check to wait for.
    l.fail('h', t);
    l.fail('h', t);
    l.release('h');
    l.release('h');
    expect(await Promise.all(waiting)).toEqual([false, false, false]);
    // Two seconds on, both tokens are back: two in check at once again.
    t = 2_000;
    expect(await l.reserve('h', () => t)).toBe(true);
    expect(await l.reserve('h', () => t)).toBe(true);
    const third = l.reserve('h', () => t);
    l.release('h');
    expect(await third).toBe(true);
  });

  it('is disabled with a burst of 0', () => {
    const l = new FailureLimiter(0, 1, 10);
    l.fail('h', 0);
    expect(l.allows('h', 0)).toBe(true);
    expect(l.size).toBe(0);
  });
});

describe('hostOf', () => {
  it('strips the port from IPv4, bracketed IPv6 and names', () => {
    expect(hostOf('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(hostOf('[::1]:5000')).toBe('::1');
    expect(hostOf('::1')).toBe('::1');
    expect(hostOf('memory#3/b')).toBe('memory#3/b');
    expect(hostOf('host:80')).toBe('host');
  });
});

describe('limitKey', () => {
  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(limitKey('[::ffff:192.0.2.1]:5000')).toBe('192.0.2.1');
    expect(limitKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(limitKey('[::FFFF:c000:201]:1')).toBe('192.0.2.1');
    expect(limitKey('[0:0:0:0:0:ffff:192.0.2.1]:1')).toBe('192.0.2.1');
    expect(limitKey('192.0.2.1:6000')).toBe('192.0.2.1');
  });

  it('counts NAT64 and IPv4-compatible forms as their IPv4 address, not as one shared /64', () => {
    // An IPv6-only switcher behind a stateless NAT64 (SIIT) sees every IPv4 client under
    // 64:ff9b::/96: as a /64, one guesser there used up the budget of all of them.
    expect(limitKey('[64:ff9b::192.0.2.1]:5000')).toBe('192.0.2.1');
    expect(limitKey('[64:ff9b::c000:202]:5000')).toBe('192.0.2.2');
    expect(limitKey('[::192.0.2.1]:5000')).toBe('192.0.2.1');
    expect(limitKey('[::c000:201]:5')).toBe('192.0.2.1');
    // Not IPv4 hosts: the unspecified and loopback addresses, and other NAT64-like prefixes.
    expect(limitKey('[::]:5')).toBe('0:0:0:0::/64');
    expect(limitKey('[::2:3]:5')).toBe('0:0:0:0::/64');
    expect(limitKey('[64:ff9b:0:0:1::c000:201]:5')).toBe('64:ff9b:0:0::/64');
    expect(limitKey('[64:ff9b:1::c000:201]:5')).toBe('64:ff9b:1:0::/64');
  });

  it('counts other IPv6 addresses by their /64 prefix', () => {
    const key = '2001:db8:1:2::/64';
    expect(limitKey('[2001:db8:1:2::1]:5000')).toBe(key);
    expect(limitKey('[2001:0DB8:0001:0002:ffff:ffff:ffff:fffe]:5')).toBe(key);
    expect(limitKey('2001:db8:1:2:3:4:5:6')).toBe(key);
    expect(limitKey('[fe80::1%eth0]:5')).toBe('fe80:0:0:0::/64');
    expect(limitKey('[2001:db8:1:3::1]:5000')).toBe('2001:db8:1:3::/64');
    expect(limitKey('[::1]:5')).toBe('0:0:0:0::/64');
  });

  it('leaves names and what is not an IP address as they are', () => {
    expect(limitKey('memory#3/b')).toBe('memory#3/b');
    expect(limitKey('host:80')).toBe('host');
    expect(limitKey('1::2::3')).toBe('1::2::3');
    expect(limitKey('[1.2.3.4::]:5')).toBe('1.2.3.4::');
  });
});

describe('parseIPv6', () => {
  it('expands :: and a dotted IPv4 tail, and refuses malformed text', () => {
    expect(parseIPv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    for (const bad of [
      '1.2.3.4',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4::5:6:7:8',
      '::1.2.3.256',
      'g::1',
      '12345::',
    ])
      expect(parseIPv6(bad)).toBeNull();
  });
});
