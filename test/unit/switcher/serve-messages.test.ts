import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Switcher, serveTls, serveWs, serveWss } from '../../../src/index.js';
import { freePort } from '../../helpers/ports.js';
import { rejectsWithConfigError } from '../../helpers/rejects.js';

/**
 * The switcher's listeners are exported as serveTls, serveWs and serveWss, but their ConfigErrors
 * named the functions inside ("listenTls needs key and cert", "listenWs serves plain HTTP: use
 * listenWss"): names the package also exports for the transports' own listeners, which the caller
 * never called and which take different arguments. Each message names the call that was made.
 */

/** Where the listeners would bind, were they to: refused first, nothing binds there. */
let port = 0;
beforeAll(async () => {
  port = await freePort();
});

const switchers: Switcher[] = [];
afterEach(async () => {
  for (const sw of switchers.splice(0)) await sw.close();
});

function switcher(): Switcher {
  const sw = new Switcher({ password: 'p' });
  switchers.push(sw);
  return sw;
}

describe('switcher listener errors name the serve call', () => {
  it('serveTls without key or pfx', async () => {
    const err = await rejectsWithConfigError(() => serveTls(switcher(), { host: '127.0.0.1', port }));
    expect(err.message).toBe('serveTls() needs key and cert (or pfx, or an SNICallback)');
  });

  it('serveWss without key or pfx', async () => {
    const err = await rejectsWithConfigError(() => serveWss(switcher(), { host: '127.0.0.1', port }));
    expect(err.message).toBe('serveWss() needs key and cert (or pfx, or an SNICallback)');
  });

  it('serveWs given a key', async () => {
    const options = { host: '127.0.0.1', port, key: 'k', cert: 'c' } as Parameters<typeof serveWs>[1];
    const err = await rejectsWithConfigError(() => serveWs(switcher(), options));
    expect(err.message).toBe('serveWs() serves plain HTTP and takes no key or pfx: use serveWss()');
  });
});
