import { ConfigError } from '../errors.js';
import { checkInt, checkMethods } from '../util/check.js';
import { IpPool, MAX_IP } from './ip-pool.js';

/**
 * The switcher's domain and IP tables (PROTOCOL.md 7.2, 7.3). Domains are normalised by the
 * caller. A second connection claiming a held domain makes the registry probe the holder (the
 * switcher's liveness ping): any reply means the holder is alive and the newcomer is refused; no
 * reply means the holder is evicted and the newcomer takes the domain. Unlike Go, an answer of
 * `domain not match` also counts as alive (12.1.3), and claims of one domain never race: while one
 * is being decided a second is refused. A holder is evicted only for a newcomer that gets its
 * place: with no room or no free IP for it, both are refused and the holder stays.
 */

/** What the registry holds: an entry with its virtual IP and domain. */
export interface Registrant {
  /** The entry's virtual IP. */
  readonly ip: number;
  /** The entry's domain, normalised. */
  readonly domain: string;
}

/** Why a claim was refused: the domain is held by a live node, being claimed, or no room or IP is left. */
export type ClaimRefusal = 'taken' | 'busy' | 'full';

/** A domain and IP reserved for a newcomer, to commit once it is admitted or cancel. */
export interface Claim<T extends Registrant> {
  /** The IP reserved. */
  readonly ip: number;
  /** The domain claimed. */
  readonly domain: string;
  /** Publishes the entry (its `ip` and `domain` must be the claim's). */
  commit(entry: T): void;
  /** Gives the IP back and frees the domain for other claims. */
  cancel(): void;
}

/** What a claim of a domain resolves to. */
export type ClaimResult<T extends Registrant> =
  | {
      /** Granted. */
      ok: true;
      /** The reservation. */
      claim: Claim<T>;
    }
  | {
      /** Refused. */
      ok: false;
      /** Why. */
      reason: ClaimRefusal;
    };

/** What the registry asks of its owner: the liveness probe of a holder, and its eviction. */
export interface RegistryHooks<T> {
  /** Liveness check of a holder: resolves true if it answered at all. Must settle. */
  probe(holder: T): Promise<boolean>;
  /** The holder lost its domain to a newcomer; it is already removed from the tables. */
  evict(holder: T): void;
}

/**
 * The switcher's domain and virtual-IP tables (PROTOCOL.md 7.2, 7.3): a second claim of a held
 * domain probes the holder, which keeps the domain if it answers and is evicted if not.
 */
export class Registry<T extends Registrant> {
  private readonly domains = new Map<string, T>();
  private readonly ips = new Map<number, T>();
  private readonly claiming = new Set<string>();
  /**
   * IPs of removed entries whose connection has not ended yet, by IP: handed to no other entry
   * until release(), or frames of the old entry's streams (sent to it before its peers learnt it
   * left) would reach the new one.
   */
  private readonly retired = new Map<number, T>();
  private readonly pool: IpPool;
  private reserved = 0;

  constructor(
    private readonly hooks: RegistryHooks<T>,
    private readonly maxEntries = MAX_IP,
    pool?: IpPool,
  ) {
    // Called only by a second claim of a held domain: a bad one failed there, in an admission.
    checkMethods('new Registry() hooks', 'RegistryHooks', hooks, ['probe', 'evict']);
    checkInt('new Registry() maxEntries', maxEntries, 0, MAX_IP);
    if (pool !== undefined) checkMethods('new Registry() pool', 'an IpPool', pool, ['take', 'release']);
    this.pool = pool ?? new IpPool();
  }

  /** Entries held. */
  get size(): number {
    return this.ips.size;
  }

  /** The entry holding `domain` (normalised), if any. */
  byDomain(domain: string): T | undefined {
    return this.domains.get(domain);
  }

  /** The entry holding `ip`; 0 and 0xFFFF never match (1.4). */
  byIp(ip: number): T | undefined {
    return this.ips.get(ip);
  }

  /**
   * The entries in the order they were committed (a committed IP is never in the table already,
   * so it goes last): the switcher's client ids, handed out in that order, ascend along it.
   */
  entries(): IterableIterator<T> {
    return this.ips.values();
  }

  /** Runs the takeover rule for `domain` and reserves an IP (2.6 step 8). */
  async claim(domain: string): Promise<ClaimResult<T>> {
    if (this.claiming.has(domain)) return { ok: false, reason: 'busy' };
    this.claiming.add(domain);
    let reservedIp = -1;
    try {
      let holder = this.domains.get(domain);
      if (holder !== undefined) {
        const alive = await this.hooks.probe(holder);
        if (this.domains.get(domain) !== holder) holder = undefined;
        else if (alive) return { ok: false, reason: 'taken' };
      }
      // Room for the newcomer before the holder goes: evicted, it gives up its place but not its
      // IP (retired until its connection ends), so a newcomer without an IP must not cost the
      // holder its domain. A silent holder of a domain nobody can take keeps it.
      const place = holder === undefined ? 0 : 1;
      if (this.ips.size - place + this.reserved >= this.maxEntries) return { ok: false, reason: 'full' };
      reservedIp = this.pool.take(domain);
      if (reservedIp < 0) return { ok: false, reason: 'full' };
      this.reserved++;
      if (holder !== undefined) {
        this.remove(holder);
        try {
          this.hooks.evict(holder);
        } catch (err) {
          // A throwing hook (a logger that throws) fails this claim, not the domain: kept, the
          // reservation left the domain 'busy' for good and its IP and place taken.
          this.reserved--;
          this.pool.release(reservedIp);
          reservedIp = -1;
          throw err;
        }
      }
      return { ok: true, claim: this.makeClaim(domain, reservedIp) };
    } finally {
      if (reservedIp < 0) this.claiming.delete(domain);
    }
  }

  /**
   * Removes an entry if it still owns its domain and IP: nothing resolves to it any more, and its
   * domain is free for a claim at once (a reconnecting node wants it back, 8.8). Its IP stays
   * retired until release(), as Go releases it only once the connection ended (7.1).
   */
  remove(entry: T): boolean {
    let removed = false;
    if (this.domains.get(entry.domain) === entry) {
      this.domains.delete(entry.domain);
      removed = true;
    }
    if (this.ips.get(entry.ip) === entry) {
      this.ips.delete(entry.ip);
      this.retired.set(entry.ip, entry);
      removed = true;
    }
    return removed;
  }

  /** The removed entry whose connection has not ended yet and keeps `ip` retired, if any. */
  retiredAt(ip: number): T | undefined {
    return this.retired.get(ip);
  }

  /** The entry's connection ended: removes it if need be and gives its IP back to the pool, once. */
  release(entry: T): void {
    this.remove(entry);
    if (this.retired.get(entry.ip) !== entry) return;
    this.retired.delete(entry.ip);
    this.pool.release(entry.ip);
  }

  private makeClaim(domain: string, ip: number): Claim<T> {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.reserved--;
      this.claiming.delete(domain);
      return true;
    };
    return {
      ip,
      domain,
      commit: (entry) => {
        if (entry.ip !== ip || entry.domain !== domain) {
          throw new ConfigError('a claim must be committed with its own ip and domain');
        }
        if (!settle()) return;
        this.domains.set(domain, entry);
        this.ips.set(ip, entry);
      },
      cancel: () => {
        if (settle()) this.pool.release(ip);
      },
    };
  }
}
