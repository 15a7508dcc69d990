import { describe, expect, it } from 'vitest';
import type { HttpError } from '../../../src/admin/http.js';
import { type Route, Router } from '../../../src/admin/router.js';

const noop = (): void => {};
const route = (method: Route['method'], path: string): Route => ({
  method,
  path,
  access: 'token',
  handle: noop,
});

describe('admin router', () => {
  const r = new Router().add(route('GET', '/a/{x}'), route('DELETE', '/a/{x}'), route('GET', '/b'));

  it('matches paths and decodes parameters', () => {
    expect(r.match('GET', '/a/hello%20there').params).toEqual({ x: 'hello there' });
    expect(r.match('DELETE', '/a/z').route.method).toBe('DELETE');
    expect(r.match('HEAD', '/b').route.path).toBe('/b');
  });

  it('answers 404 and 405 with Allow', () => {
    const err = (f: () => unknown): HttpError => {
      try {
        f();
      } catch (e) {
        return e as HttpError;
      }
      throw new Error('no error');
    };
    expect(err(() => r.match('GET', '/c')).status).toBe(404);
    expect(err(() => r.match('GET', '/a/')).status).toBe(404);
    expect(err(() => r.match('GET', '/a/x/y')).status).toBe(404);
    const e = err(() => r.match('POST', '/a/x'));
    expect(e.status).toBe(405);
    expect(e.headers.allow).toBe('DELETE, GET, HEAD');
    expect(err(() => r.match('GET', '/a/%E0%A4')).status).toBe(400);
  });
});
