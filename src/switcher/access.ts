import { ConfigError } from '../errors.js';
import { checkType } from '../util/check.js';

/**
 * Access rules beyond Go, invisible on the wire so Go nodes work unchanged:
 *
 * - extra passwords, each bound to domain patterns: a node admitted with one may only register a
 *   domain its patterns allow. The shared password is tried first and allows every domain (Go).
 * - dial rules: which source domains may open streams to which destination domains. Without
 *   rules every dial is allowed (Go). With rules, an OpenStream needs a rule from the dialer to
 *   the acceptor, and any other frame between two nodes needs a rule in either direction (so
 *   replies flow back, but a node cannot push frames at a node it may not reach).
 *
 * Patterns are globs over normalised domains: `*` any run of characters, `?` exactly one.
 */

/** An extra password of `access.passwords`, bound to the domains it may register. */
export interface ExtraPassword {
  /** The password; it must differ from the shared one and from every other. */
  password: string;
  /** Domain patterns this password may register, e.g. `team-*`. */
  domains: string | readonly string[];
}

export interface DialRule {
  /** Source domain patterns. */
  from: string | readonly string[];
  /** Destination domain patterns. */
  to: string | readonly string[];
}

export interface AccessOptions {
  /** Tried in order after the shared password. */
  passwords?: readonly ExtraPassword[];
  /** When given (even empty), only the dials these rules allow are forwarded. */
  dial?: readonly DialRule[];
}

/** A list of patterns as given: one string, or an array copied. */
const copyPatterns = (p: string | readonly string[]): string | readonly string[] =>
  typeof p === 'string' ? p : [...p];

/**
 * A deep copy of `o`, checked already (AccessPolicy.setAccess): the switcher keeps this, so that
 * the caller changing its object later changes neither `options.access` nor the next change's log.
 */
export function copyAccess(o: AccessOptions): AccessOptions {
  const copy: AccessOptions = {};
  if (o.passwords !== undefined) {
    copy.passwords = o.passwords.map((p) => ({ password: p.password, domains: copyPatterns(p.domains) }));
  }
  if (o.dial !== undefined)
    copy.dial = o.dial.map((r) => ({ from: copyPatterns(r.from), to: copyPatterns(r.to) }));
  return copy;
}

/** One password the switcher accepts and the domains it may register. */
export interface Credential {
  /** The password. */
  readonly password: string;
  /** -1 for the shared password, else the index in `access.passwords`. */
  readonly index: number;
  /** True if this password may register `domain` (a normalised domain). */
  allows(domain: string): boolean;
}

export type Matcher = (domain: string) => boolean;

const PATTERN = /^[a-z0-9_*?-]+$/;

/**
 * Does `domain` match the glob `pattern` (checked already: only [a-z0-9_*?-])? Greedy two-pointer
 * matching that only ever goes back to the last `*`: O(pattern × domain) steps at worst. A regular
 * expression built from the glob backtracks exponentially instead (`a*a*a*a*a*a*a*a*b` against 63
 * `a`s took seconds), and a node chooses the domain it registers, while dial rules are checked on
 * every frame between two nodes.
 */
function globMatch(pattern: string, domain: string): boolean {
  let p = 0;
  let d = 0;
  let star = -1; // index in `pattern` just after the last `*` seen
  let retry = 0; // where in `domain` that `*` would next resume
  while (d < domain.length) {
    const c = pattern.charCodeAt(p);
    if (c === 0x2a) {
      star = ++p;
      retry = d;
    } else if (p < pattern.length && (c === 0x3f || c === domain.charCodeAt(d))) {
      p++;
      d++;
    } else if (star >= 0) {
      // Let the last `*` swallow one more character and try the rest again from there.
      p = star;
      d = ++retry;
    } else {
      return false;
    }
  }
  while (pattern.charCodeAt(p) === 0x2a) p++;
  return p === pattern.length;
}

/**
 * Characters no pattern character matches: these globs used to be regular expressions, whose `.`
 * skips line terminators, and an exported matcher keeps that verdict for any string.
 */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/** Compiles glob patterns into one predicate over normalised domains. */
export function compilePatterns(name: string, patterns: string | readonly string[]): Matcher {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(`${name} needs at least one domain pattern`);
  }
  const globs: string[] = [];
  for (const raw of list) {
    if (typeof raw !== 'string') throw new ConfigError(`${name}: a domain pattern must be a string`);
    const p = raw.trim().toLowerCase();
    if (!PATTERN.test(p)) {
      throw new ConfigError(`${name}: domain pattern "${raw}" may hold only a-z 0-9 _ - * ?`);
    }
    globs.push(p);
  }
  return (domain) => !LINE_TERMINATOR.test(domain) && globs.some((g) => globMatch(g, domain));
}

const ANY: Matcher = () => true;

type DialRules = readonly { from: Matcher; to: Matcher }[];

/** The extra passwords of `o`, compiled, after the shared `password`; throws ConfigError. */
function compileCredentials(password: string, o: AccessOptions): Credential[] {
  const creds: Credential[] = [{ password, index: -1, allows: ANY }];
  const extra = o.passwords ?? [];
  if (!Array.isArray(extra)) throw new ConfigError('access.passwords must be an array');
  extra.forEach((e, i) => {
    if (e === null || typeof e !== 'object' || typeof e.password !== 'string') {
      throw new ConfigError(`access.passwords[${i}].password must be a string`);
    }
    if (e.password === password) {
      throw new ConfigError(`access.passwords[${i}] repeats the shared password, which allows every domain`);
    }
    // The first password that opens a request decides, so a repeat's patterns would never apply.
    const first = extra.findIndex((x) => x?.password === e.password);
    if (first < i) {
      throw new ConfigError(
        `access.passwords[${i}] repeats access.passwords[${first}]: list all its domains there`,
      );
    }
    const allows = compilePatterns(`access.passwords[${i}].domains`, e.domains);
    creds.push({ password: e.password, index: i, allows });
  });
  return creds;
}

/** The dial rules of `o`, compiled; null for none (every dial allowed). Throws ConfigError. */
function compileDialRules(o: AccessOptions): DialRules | null {
  if (o.dial === undefined) return null;
  if (!Array.isArray(o.dial)) throw new ConfigError('access.dial must be an array');
  return o.dial.map((r, i) => {
    if (r === null || typeof r !== 'object') throw new ConfigError(`access.dial[${i}] must be an object`);
    return {
      from: compilePatterns(`access.dial[${i}].from`, r.from),
      to: compilePatterns(`access.dial[${i}].to`, r.to),
    };
  });
}

export class AccessPolicy {
  /**
   * Passwords in the order admission tries them; the shared one first. Replaced whole, never
   * changed in place, by setPassword and setAccess: an admission that is trying them keeps the
   * list it began with, and is checked against the list in use again before it is admitted
   * (Gatekeeper).
   */
  get credentials(): readonly Credential[] {
    return this.creds;
  }
  private creds: readonly Credential[];
  /** True when there are no dial rules: everything may talk to everything (Go). */
  get open(): boolean {
    return this.rules === null;
  }
  private rules: DialRules | null;

  constructor(password: string, o: AccessOptions = {}) {
    // As setPassword() refuses it: kept, every admission was checked against null, and refused.
    checkType('new AccessPolicy() password', password, 'string');
    this.creds = compileCredentials(password, o);
    this.rules = compileDialRules(o);
  }

  /**
   * Replaces the extra passwords and the dial rules with those of `o`, and with `password` the
   * shared password, all or none: all of it is checked together before anything changes (ConfigError, keeping the rules in use). Nodes already
   * admitted are not asked again; the next admissions, and the dial rules' next checks (every
   * frame between two nodes, mayDial and mayTalk), see the new ones.
   */
  setAccess(o: AccessOptions, password: string = this.creds[0].password): void {
    if (o === null || typeof o !== 'object') throw new ConfigError('access must be an object');
    if (typeof password !== 'string') throw new ConfigError('password must be a string');
    // Checked against the shared password they will be used with: with `password`, the new one,
    // so one call can move a password between the shared one and an extra one.
    const creds = compileCredentials(password, o);
    const rules = compileDialRules(o);
    this.creds = creds;
    this.rules = rules;
  }

  /**
   * Replaces the shared password for admissions from now on (a rotated secret); nodes already
   * admitted are not asked again. Throws ConfigError, keeping the old one, for a password that
   * repeats an extra one, as the constructor does.
   */
  setPassword(password: string): void {
    if (typeof password !== 'string') throw new ConfigError('password must be a string');
    const extra = this.credentials.slice(1);
    const i = extra.findIndex((c) => c.password === password);
    if (i >= 0) {
      throw new ConfigError(`access.passwords[${i}] repeats the shared password, which allows every domain`);
    }
    this.creds = [{ password, index: -1, allows: ANY }, ...extra];
  }

  /** May the node registered as `from` open a stream to `to`? A node may always reach itself. */
  mayDial(from: string, to: string): boolean {
    const rules = this.rules;
    if (rules === null || from === to) return true;
    for (const r of rules) if (r.from(from) && r.to(to)) return true;
    return false;
  }

  /** May frames other than OpenStream pass between these two nodes (either may dial the other)? */
  mayTalk(a: string, b: string): boolean {
    return this.mayDial(a, b) || this.mayDial(b, a);
  }
}
