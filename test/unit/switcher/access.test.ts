import { describe, expect, it } from 'vitest';
import { AccessPolicy, compilePatterns } from '../../../src/switcher/access.js';

describe('access patterns', () => {
  it('matches globs over whole domains', () => {
    const m = compilePatterns('p', ['team-*', 'a?c', 'exact']);
    expect(m('team-')).toBe(true);
    expect(m('team-red')).toBe(true);
    expect(m('xteam-red')).toBe(false);
    expect(m('abc')).toBe(true);
    expect(m('abbc')).toBe(false);
    expect(m('exact')).toBe(true);
    expect(m('exactly')).toBe(false);
    expect(compilePatterns('p', '*')('anything')).toBe(true);
    expect(compilePatterns('p', 'Team-*')('team-a')).toBe(true);
  });

  it('decides as the regular expression it replaced, on every pattern and domain', () => {
    // The glob as a regular expression, as compilePatterns built it before: the reference verdict.
    const reference = (p: string, d: string) =>
      new RegExp(`^(?:${p.replace(/-/g, '\\-').replace(/\*/g, '.*').replace(/\?/g, '.')})$`).test(d);
    let seed = 7;
    const pick = (s: string) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return s[Math.floor(seed / 65536) % s.length];
    };
    const word = (alphabet: string, max: number) => {
      let w = '';
      const n = Number.parseInt(pick('0123456789'), 10) % (max + 1);
      for (let i = 0; i < n; i++) w += pick(alphabet);
      return w;
    };
    for (let i = 0; i < 20000; i++) {
      const p = word('ab-**?', 7) || '*';
      const d = word('ab-_\n', 9);
      expect(compilePatterns('p', p)(d), `${JSON.stringify(p)} on ${JSON.stringify(d)}`).toBe(
        reference(p, d),
      );
    }
  });

  it('takes steps bounded by pattern × domain length, not exponential, for many stars', () => {
    // As a regular expression this took over a second, and 8 s with 8 stars.
    const m = compilePatterns('p', `${'a*'.repeat(7)}b`);
    const domain = 'a'.repeat(63);
    const start = performance.now();
    expect(m(domain)).toBe(false);
    expect(m(`${domain.slice(1)}b`)).toBe(true);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('rejects patterns that could never match a normalised domain', () => {
    expect(() => compilePatterns('p', 'a.b')).toThrow(/a-z 0-9/);
    expect(() => compilePatterns('p', [])).toThrow(/at least one/);
    expect(() => compilePatterns('p', '(x)')).toThrow();
  });
});

describe('AccessPolicy', () => {
  it('is Go’s open policy by default: one password, every domain, every dial', () => {
    const p = new AccessPolicy('pw');
    expect(p.credentials).toHaveLength(1);
    expect(p.credentials[0].allows('anything')).toBe(true);
    expect(p.open).toBe(true);
    expect(p.mayDial('a', 'b')).toBe(true);
  });

  it('tries the shared password first, then the extra ones in order', () => {
    const p = new AccessPolicy('pw', {
      passwords: [
        { password: 'red', domains: 'team-red-*' },
        { password: 'blue', domains: ['team-blue-*', 'blue'] },
      ],
    });
    expect(p.credentials.map((c) => c.password)).toEqual(['pw', 'red', 'blue']);
    expect(p.credentials[1].allows('team-red-1')).toBe(true);
    expect(p.credentials[1].allows('team-blue-1')).toBe(false);
    expect(p.credentials[2].allows('blue')).toBe(true);
  });

  it('refuses an extra password equal to the shared one', () => {
    expect(() => new AccessPolicy('pw', { passwords: [{ password: 'pw', domains: 'x' }] })).toThrow(
      /repeats/,
    );
  });

  it('refuses an extra password given twice, whose second patterns would never apply', () => {
    const passwords = [
      { password: 'team', domains: 'team-*' },
      { password: 'team', domains: 'ci-*' },
    ];
    expect(() => new AccessPolicy('pw', { passwords })).toThrow(
      /passwords\[1\] repeats access.passwords\[0\]/,
    );
  });

  it('replaces the shared password, keeping the extra ones and refusing one of them as shared', () => {
    const p = new AccessPolicy('pw', { passwords: [{ password: 'red', domains: 'team-red-*' }] });
    const before = p.credentials;
    p.setPassword('pw2');
    expect(p.credentials.map((c) => c.password)).toEqual(['pw2', 'red']);
    expect(p.credentials[0].allows('anything')).toBe(true);
    expect(p.credentials[1].allows('blue')).toBe(false);
    // A new list: an admission trying the old one keeps it whole.
    expect(before.map((c) => c.password)).toEqual(['pw', 'red']);
    expect(() => p.setPassword('red')).toThrow(/passwords\[0\] repeats the shared password/);
    expect(p.credentials[0].password).toBe('pw2');
  });

  it('replaces the extra passwords and dial rules whole, or not at all', () => {
    const p = new AccessPolicy('pw', { passwords: [{ password: 'red', domains: 'team-red-*' }] });
    const before = p.credentials;
    p.setAccess({
      passwords: [{ password: 'blue', domains: 'team-blue-*' }],
      dial: [{ from: 'a', to: 'b' }],
    });
    expect(p.credentials.map((c) => c.password)).toEqual(['pw', 'blue']);
    expect(before.map((c) => c.password)).toEqual(['pw', 'red']);
    expect(p.open).toBe(false);
    expect(p.mayDial('a', 'b')).toBe(true);
    expect(p.mayDial('b', 'a')).toBe(false);
    // Valid passwords and a bad dial rule: nothing of it is taken.
    expect(() =>
      p.setAccess({ passwords: [{ password: 'green', domains: '*' }], dial: [{ from: 'a.b', to: 'c' }] }),
    ).toThrow(/domain pattern "a\.b"/);
    expect(p.credentials.map((c) => c.password)).toEqual(['pw', 'blue']);
    expect(p.mayDial('b', 'a')).toBe(false);
    expect(() => p.setAccess({ passwords: [{ password: 'pw', domains: '*' }] })).toThrow(
      /repeats the shared/,
    );
    // Set after a new shared password, it checks against that one; none at all is Go's open policy.
    p.setPassword('pw2');
    expect(() => p.setAccess({ passwords: [{ password: 'pw2', domains: '*' }] })).toThrow(
      /repeats the shared/,
    );
    p.setAccess({});
    expect(p.credentials.map((c) => c.password)).toEqual(['pw2']);
    expect(p.open).toBe(true);
    expect(p.mayDial('b', 'a')).toBe(true);
  });

  it('with a shared password too, checks the two against each other, not against those in use', () => {
    const p = new AccessPolicy('pw1', { passwords: [{ password: 'pw2', domains: 'team-*' }] });
    // Swapped: each repeats the other's old value, but not its new one.
    p.setAccess({ passwords: [{ password: 'pw1', domains: 'team-*' }] }, 'pw2');
    expect(p.credentials.map((c) => c.password)).toEqual(['pw2', 'pw1']);
    expect(p.credentials[1].allows('team-a')).toBe(true);
    expect(p.credentials[1].allows('other')).toBe(false);
    // Equal to each other: refused, both kept.
    expect(() => p.setAccess({ passwords: [{ password: 'pw3', domains: '*' }] }, 'pw3')).toThrow(
      /repeats the shared password/,
    );
    expect(p.credentials.map((c) => c.password)).toEqual(['pw2', 'pw1']);
  });

  it('applies dial rules one way, and lets replies through both ways', () => {
    const p = new AccessPolicy('pw', { dial: [{ from: 'web-*', to: ['db', 'cache'] }] });
    expect(p.open).toBe(false);
    expect(p.mayDial('web-1', 'db')).toBe(true);
    expect(p.mayDial('db', 'web-1')).toBe(false);
    expect(p.mayTalk('db', 'web-1')).toBe(true);
    expect(p.mayDial('web-1', 'web-2')).toBe(false);
    expect(p.mayTalk('web-1', 'web-2')).toBe(false);
    expect(p.mayDial('db', 'db')).toBe(true);
  });

  it('with an empty rule list allows nothing but self-dials', () => {
    const p = new AccessPolicy('pw', { dial: [] });
    expect(p.mayDial('a', 'b')).toBe(false);
    expect(p.mayDial('a', 'a')).toBe(true);
  });
});
