import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Auth } from '../../../src/admin/auth.js';
import type { HttpError } from '../../../src/admin/http.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const url = (q = ''): URL => new URL(`http://x/api${q}`);

function status(f: () => void): number {
  try {
    f();
    return 200;
  } catch (e) {
    return (e as HttpError).status;
  }
}

describe('admin auth', () => {
  it('accepts the bearer token, and the query token only where allowed', () => {
    const a = new Auth('s3cret');
    expect(status(() => a.check(req({ authorization: 'Bearer s3cret' }), url(), false))).toBe(200);
    expect(status(() => a.check(req({ authorization: 'bearer   s3cret ' }), url(), false))).toBe(200);
    expect(status(() => a.check(req({ authorization: 'Bearer s3cre' }), url(), false))).toBe(401);
    expect(status(() => a.check(req({ authorization: 'Bearer s3cretx' }), url(), false))).toBe(401);
    expect(status(() => a.check(req({}), url(), false))).toBe(401);
    expect(status(() => a.check(req({}), url('?access_token=s3cret'), false))).toBe(401);
    expect(status(() => a.check(req({}), url('?access_token=s3cret'), true))).toBe(200);
  });

  it('without a token: allows everything (a Host check comes first: hosts.test.ts)', () => {
    const a = new Auth(undefined);
    expect(a.required).toBe(false);
    expect(status(() => a.check(req({}), url(), false))).toBe(200);
  });

  it('takes a replacement token for the next request, refusing the old one', () => {
    const a = new Auth('old');
    // Whether it changed: the admin server ends event streams opened with a replaced token.
    expect(a.replace('old')).toBe(false);
    expect(a.replace('new')).toBe(true);
    expect(status(() => a.check(req({ authorization: 'Bearer old' }), url(), false))).toBe(401);
    expect(status(() => a.check(req({ authorization: 'Bearer new' }), url(), false))).toBe(200);
    // Without a token at start there is none to replace: it answers loopback Host names only.
    const none = new Auth(undefined);
    expect(() => none.replace('t')).toThrow(/without a token/);
    expect(none.required).toBe(false);
  });
});
