import { ConfigError } from '../errors.js';
import { checkInt, checkType, shown } from '../util/check.js';

/**
 * The switcher's virtual IPs, 1..65534 (PROTOCOL.md 7.3). Two ways to pick one:
 *
 * - `sequential`, as Go: in order, and only once all were used, released ones newest first. A
 *   node that reconnects gets a new IP, and after a switcher restart IPs follow the order in which
 *   nodes came back, so a dial by IP made from an old answer can reach another node.
 * - `by-domain` (flexmux's default): each domain has a home slot, a hash of its name, and gets the
 *   first free slot from there that no other domain has held in this switcher's life. A node that
 *   reconnects, or comes back to a restarted switcher, gets the IP it had, unless its home slot
 *   is held (another domain with the same hash, or its own earlier connection still ending after
 *   a takeover). Slots another domain held are handed out only once every slot has been held,
 *   which keeps the promise of the sequential order: a stale IP reaches no other node while
 *   unheld slots remain.
 */

export const MIN_IP = 1;
export const MAX_IP = 0xfffe;

/**
 * How nodes get their virtual IP: `by-domain` gives a domain the same IP across reconnects and
 * restarts (its home slot, unless another domain holds it); `sequential` is Go's order.
 */
export type IpAssignment = 'by-domain' | 'sequential';

/** The modes of IpAssignment, for checks and help texts. */
export const ipAssignments: readonly IpAssignment[] = ['by-domain', 'sequential'];

/**
 * 32-bit FNV-1a over the name's UTF-16 code units, never 0 (0 marks a slot nobody held). Part of
 * the contract: a domain's home slot must not move between switcher versions.
 */
export function domainFingerprint(domain: string): number {
  // A number has no length: every one got fingerprint 1.
  checkType('domainFingerprint() domain', domain, 'string');
  let h = 0x811c9dc5;
  for (let i = 0; i < domain.length; i++) {
    h ^= domain.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0 || 1;
}

/** The virtual IPs of a switcher, 1..65534 by default, handed out in the order of an IpAssignment. */
export class IpPool {
  private next: number;
  private readonly free: number[] = [];
  private readonly used: Uint8Array;
  /** by-domain: the fingerprint of the last domain that held each slot, 0 if none did. */
  private readonly holder: Uint32Array | null;
  private count = 0;

  constructor(
    private readonly min = MIN_IP,
    private readonly max = MAX_IP,
    mode: IpAssignment = 'sequential',
  ) {
    // Kept as given, a string bound sized the table from its text and handed out nothing, and an
    // unknown mode silently meant 'sequential'.
    checkInt('new IpPool() min', min, MIN_IP, MAX_IP);
    checkInt('new IpPool() max', max, min, MAX_IP);
    if (!ipAssignments.includes(mode)) {
      throw new ConfigError(
        `new IpPool() mode must be one of ${ipAssignments.join(', ')}, got ${shown(mode)}`,
      );
    }
    this.next = min;
    this.used = new Uint8Array(max + 1);
    this.holder = mode === 'by-domain' ? new Uint32Array(max + 1) : null;
  }

  /** IPs handed out and not given back. */
  get inUse(): number {
    return this.count;
  }

  /** A free IP for `domain`, or -1 when the pool is exhausted. */
  take(domain = ''): number {
    const ip =
      this.holder === null ? this.takeInOrder() : this.takeFor(domainFingerprint(domain), this.holder);
    if (ip < 0) return -1;
    this.used[ip] = 1;
    this.count++;
    return ip;
  }

  /** Returns an IP to the pool; false (and nothing changes) if it was not taken. */
  release(ip: number): boolean {
    if (!Number.isInteger(ip) || ip < this.min || ip > this.max || this.used[ip] === 0) return false;
    this.used[ip] = 0;
    this.count--;
    if (this.holder === null) this.free.push(ip);
    return true;
  }

  private takeInOrder(): number {
    if (this.next <= this.max) return this.next++;
    return this.free.pop() ?? -1;
  }

  private takeFor(fp: number, holder: Uint32Array): number {
    if (this.count > this.max - this.min) return -1;
    const span = this.max - this.min + 1;
    const home = this.min + (fp % span);
    // One pass for a slot this domain held or nobody did; a second for any free one. At most one
    // scan of the table (65,534 bytes) per admission, and only once nearly every slot was held.
    let any = -1;
    for (let k = 0, ip = home; k < span; k++, ip = ip === this.max ? this.min : ip + 1) {
      if (this.used[ip] !== 0) continue;
      const h = holder[ip]!;
      if (h === 0 || h === fp) {
        holder[ip] = fp;
        return ip;
      }
      if (any < 0) any = ip;
    }
    holder[any] = fp;
    return any;
  }
}
