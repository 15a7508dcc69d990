import { describe, expect, it } from 'vitest';
import { IpPool, MAX_IP } from '../../../src/switcher/ip-pool.js';
import { type Registrant, Registry } from '../../../src/switcher/registry.js';

interface Entry extends Registrant {
  name: string;
}

function hooks(alive: (e: Entry) => boolean | Promise<boolean> = () => true) {
  const evicted: Entry[] = [];
  const probed: Entry[] = [];
  return {
    evicted,
    probed,
    hooks: {
      probe: async (e: Entry) => {
        probed.push(e);
        return alive(e);
      },
      evict: (e: Entry) => {
        evicted.push(e);
      },
    },
  };
}

async function add(r: Registry<Entry>, domain: string, name = domain): Promise<Entry> {
  const res = await r.claim(domain);
  if (!res.ok) throw new Error(`claim of ${domain} refused: ${res.reason}`);
  const e = { ip: res.claim.ip, domain, name };
  res.claim.commit(e);
  return e;
}

describe('IpPool (PROTOCOL.md 7.3)', () => {
  it('hands out IPs in order, and reuses released ones only after the last, newest first', () => {
    const p = new IpPool(1, 5);
    expect([p.take(), p.take(), p.take()]).toEqual([1, 2, 3]);
    expect(p.release(2)).toBe(true);
    expect(p.release(1)).toBe(true);
    expect([p.take(), p.take()]).toEqual([4, 5]);
    expect([p.take(), p.take(), p.take()]).toEqual([1, 2, -1]);
    expect(p.inUse).toBe(5);
  });

  it('refuses to release what it did not hand out (no double release, 12.2)', () => {
    const p = new IpPool();
    const ip = p.take();
    expect(p.release(ip)).toBe(true);
    expect(p.release(ip)).toBe(false);
    expect(p.release(0)).toBe(false);
    expect(p.release(0xffff)).toBe(false);
    expect(p.release(77)).toBe(false);
    expect(p.inUse).toBe(0);
  });

  it('covers 1..65534', () => {
    const p = new IpPool();
    let last = 0;
    for (let i = 0; i < MAX_IP; i++) last = p.take();
    expect(last).toBe(0xfffe);
    expect(p.take()).toBe(-1);
  });
});

describe('Registry', () => {
  it('registers, looks up by domain and IP, and never matches 0 or 0xFFFF', async () => {
    const h = hooks();
    const r = new Registry<Entry>(h.hooks);
    const a = await add(r, 'alice');
    const b = await add(r, 'bob');
    expect([a.ip, b.ip]).toEqual([1, 2]);
    expect(r.byDomain('alice')).toBe(a);
    expect(r.byIp(2)).toBe(b);
    expect(r.byIp(0)).toBeUndefined();
    expect(r.byIp(0xffff)).toBeUndefined();
    expect(r.size).toBe(2);
    expect(h.probed).toEqual([]);
  });

  it('refuses a newcomer when the holder answers the liveness ping', async () => {
    const h = hooks(() => true);
    const r = new Registry<Entry>(h.hooks);
    const a = await add(r, 'alice');
    const res = await r.claim('alice');
    expect(res).toEqual({ ok: false, reason: 'taken' });
    expect(h.probed).toEqual([a]);
    expect(r.byDomain('alice')).toBe(a);
    // The domain is free for a later claim again.
    expect((await r.claim('alice')).ok).toBe(false);
    expect(h.probed).toHaveLength(2);
  });

  it('a throwing evict hook fails that claim only: the domain, its IP and its place are free again', async () => {
    let throwing = true;
    const r = new Registry<Entry>(
      {
        probe: async () => false,
        evict: () => {
          if (throwing) throw new Error('logger broke');
        },
      },
      2,
    );
    await add(r, 'alice', 'old');
    await expect(r.claim('alice')).rejects.toThrow('logger broke');
    // Before: the claim kept its reservation, so the domain answered 'busy' for good and the
    // reserved IP and place were gone.
    throwing = false;
    const again = await r.claim('alice');
    expect(again.ok).toBe(true);
    if (again.ok) again.claim.commit({ ip: again.claim.ip, domain: 'alice', name: 'new' });
    // Both places usable: the failed claim's reservation was given back.
    expect((await r.claim('bob')).ok).toBe(true);
  });

  it('evicts a silent holder and gives the domain a new IP', async () => {
    const h = hooks(() => false);
    const r = new Registry<Entry>(h.hooks);
    const a = await add(r, 'alice', 'old');
    const b = await add(r, 'alice', 'new');
    expect(h.evicted).toEqual([a]);
    expect(b.ip).toBe(2);
    expect(r.byDomain('alice')).toBe(b);
    expect(r.byIp(1)).toBeUndefined();
    expect(r.size).toBe(1);
  });

  it('refuses a second claim of a domain while the first is being decided', async () => {
    let answer!: (alive: boolean) => void;
    const h = hooks(() => new Promise<boolean>((res) => (answer = res)));
    const r = new Registry<Entry>(h.hooks);
    await add(r, 'alice');
    const first = r.claim('alice');
    await Promise.resolve();
    expect(await r.claim('alice')).toEqual({ ok: false, reason: 'busy' });
    answer(false);
    const res = await first;
    expect(res.ok).toBe(true);
    if (res.ok) res.claim.cancel();
    // Cancelled: the IP went back and the domain is unregistered (the old holder was evicted).
    expect(r.byDomain('alice')).toBeUndefined();
    expect((await r.claim('alice')).ok).toBe(true);
  });

  it('proceeds when the holder leaves while it is being pinged', async () => {
    let r!: Registry<Entry>;
    const h = hooks((e) => {
      r.remove(e);
      return true;
    });
    r = new Registry<Entry>(h.hooks);
    await add(r, 'alice');
    const b = await add(r, 'alice', 'new');
    expect(r.byDomain('alice')).toBe(b);
    expect(h.evicted).toEqual([]);
  });

  it('refuses with "full" at the entry limit, and counts reservations', async () => {
    const r = new Registry<Entry>(hooks().hooks, 2);
    await add(r, 'a');
    const pending = await r.claim('b');
    expect(pending.ok).toBe(true);
    expect(await r.claim('c')).toEqual({ ok: false, reason: 'full' });
    if (pending.ok) pending.claim.cancel();
    await add(r, 'c');
    expect(await r.claim('d')).toEqual({ ok: false, reason: 'full' });
  });

  it('refuses with "full" when the IP pool is exhausted', async () => {
    const r = new Registry<Entry>(hooks().hooks, 100, new IpPool(1, 1));
    await add(r, 'a');
    expect(await r.claim('b')).toEqual({ ok: false, reason: 'full' });
  });

  it('removes only an entry that still owns its domain and IP', async () => {
    const h = hooks(() => false);
    const r = new Registry<Entry>(h.hooks);
    const a = await add(r, 'alice', 'old');
    const b = await add(r, 'alice', 'new');
    expect(r.remove(a)).toBe(false);
    expect(r.byDomain('alice')).toBe(b);
    expect(r.remove(b)).toBe(true);
    expect(r.remove(b)).toBe(false);
    expect(r.size).toBe(0);
  });

  it("frees a removed entry's domain at once but hands its IP out again only after release", async () => {
    const h = hooks();
    const r = new Registry<Entry>(h.hooks, 100, new IpPool(1, 3));
    const a = await add(r, 'alice', 'old');
    await add(r, 'bob');
    r.remove(a);
    // The old alice is leaving: her domain is free at once (no liveness ping), her IP is not.
    expect(r.byIp(a.ip)).toBeUndefined();
    const b = await add(r, 'alice', 'new');
    expect(h.probed).toEqual([]);
    expect(b.ip).toBe(3);
    expect(await r.claim('carol')).toEqual({ ok: false, reason: 'full' });
    r.release(a);
    r.release(a);
    expect(r.byDomain('alice')).toBe(b);
    expect((await add(r, 'carol')).ip).toBe(a.ip);
    expect(await r.claim('dave')).toEqual({ ok: false, reason: 'full' });
  });

  it('releases the IP of an evicted holder only when told its connection ended', async () => {
    const h = hooks(() => false);
    const r = new Registry<Entry>(h.hooks, 100, new IpPool(1, 2));
    const a = await add(r, 'alice', 'old');
    const b = await add(r, 'alice', 'new');
    expect(h.evicted).toEqual([a]);
    expect(await r.claim('bob')).toEqual({ ok: false, reason: 'full' });
    r.release(a);
    // Releasing the old entry leaves the new holder of the domain alone.
    expect(r.byDomain('alice')).toBe(b);
    expect((await add(r, 'bob')).ip).toBe(a.ip);
  });

  it('neither evicts a silent holder nor admits the newcomer when no IP is free for it', async () => {
    const h = hooks(() => false);
    // The holder's own IP stays retired until its connection ends: it cannot go to the newcomer.
    const r = new Registry<Entry>(h.hooks, 100, new IpPool(1, 1));
    const a = await add(r, 'alice', 'old');
    expect(await r.claim('alice')).toEqual({ ok: false, reason: 'full' });
    expect(h.evicted).toEqual([]);
    expect(r.byDomain('alice')).toBe(a);
    expect(r.byIp(a.ip)).toBe(a);
    expect(r.size).toBe(1);
  });

  it("at the entry limit, still gives a silent holder's domain to the newcomer (its place)", async () => {
    const h = hooks(() => false);
    const r = new Registry<Entry>(h.hooks, 2);
    const a = await add(r, 'alice', 'old');
    const pending = await r.claim('bob');
    if (!pending.ok) throw new Error('refused');
    // Reservations count: alice's place and bob's promised one fill the limit.
    expect(await r.claim('carol')).toEqual({ ok: false, reason: 'full' });
    const b = await add(r, 'alice', 'new');
    expect(h.evicted).toEqual([a]);
    expect(r.byDomain('alice')).toBe(b);
    pending.claim.cancel();
  });

  it('refuses a commit with another ip or domain', async () => {
    const r = new Registry<Entry>(hooks().hooks);
    const res = await r.claim('a');
    if (!res.ok) throw new Error('refused');
    expect(() => res.claim.commit({ ip: 9, domain: 'a', name: 'x' })).toThrow(/own ip and domain/);
  });
});
