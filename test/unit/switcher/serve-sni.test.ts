import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { Switcher, serveTls, serveWss } from '../../../src/index.js';
import { dialTls } from '../../../src/transport/tls.js';
import { dialWs } from '../../../src/transport/ws.js';
import { cert, key } from '../transport/tls-fixture.js';

/**
 * Found by the transport leads hunt: serveTls and serveWss refused options whose certificates come
 * from an SNICallback alone (no key or pfx at the top level), a setup Node's TLS serves and
 * listenWs accepts (475bc4d), so a switcher with a certificate per name could not be served.
 */

const HOST = '127.0.0.1';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function switcher(): Switcher {
  const sw = new Switcher({ password: 'p' });
  cleanup.push(() => sw.close());
  return sw;
}

type Sni = (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;

/** Serves the fixture's certificate for localhost, and none for any other name. */
function sniCallback(): { SNICallback: Sni; names: string[] } {
  const context = tls.createSecureContext({ key, cert });
  const names: string[] = [];
  return {
    names,
    SNICallback: (name, cb) => {
      names.push(name);
      if (name === 'localhost') cb(null, context);
      else cb(new Error(`no certificate for ${name}`));
    },
  };
}

describe('serveTls and serveWss with certificates from an SNICallback only', () => {
  it('serveTls serves TLS with the certificate the callback picks', async () => {
    const sni = sniCallback();
    const listener = await serveTls(switcher(), { host: HOST, port: 0, SNICallback: sni.SNICallback });
    cleanup.push(() => listener.close());
    const t = await dialTls(HOST, listener.address.port, {
      ca: cert,
      servername: 'localhost',
      timeout: 5_000,
    });
    t.destroy();
    expect(sni.names).toEqual(['localhost']);
  });

  it('serveWss serves wss:// with the certificate the callback picks', async () => {
    const sni = sniCallback();
    const listener = await serveWss(switcher(), { host: HOST, port: 0, SNICallback: sni.SNICallback });
    cleanup.push(() => listener.close());
    expect(typeof listener.setSecureContext).toBe('function');
    // By name: ws sends no other name for SNI.
    const url = `wss://localhost:${listener.address.port}/flex/ws`;
    const t = await dialWs(url, { ca: cert, timeout: 5_000 });
    t.destroy();
    expect(sni.names).toEqual(['localhost']);
  });
});
