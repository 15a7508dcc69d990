import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { connector } from '../../../src/connect.js';
import type { Listener } from '../../../src/transport/tcp.js';
import { listenTls } from '../../../src/transport/tls.js';
import type { Transport } from '../../../src/transport/types.js';
import { listenWs } from '../../../src/transport/ws.js';
import { Acceptor, attachProbe } from './probe.js';
import { cert, key } from './tls-fixture.js';

const HOST = '127.0.0.1';

/** How connect() reaches a switcher for each URL scheme (src/connect.ts). */
describe('connector', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** Both ends of a connection made by `open`, closed after the test. */
  async function pair(acceptor: Acceptor<Transport>, open: Promise<Transport>): Promise<void> {
    const [a, b] = [await open, await acceptor.next()];
    const [pa, pb] = [attachProbe(a), attachProbe(b)];
    cleanup.push(async () => {
      a.destroy();
      await Promise.all([pa.closed(), pb.closed()]);
    });
  }

  // Found by the transport audit: ConnectOptions.tls is documented as the TLS options of tls://
  // and wss://, but for wss:// only ca, cert, key and rejectUnauthorized were passed on, so
  // servername (and pfx, passphrase, checkServerIdentity, minVersion...) were silently dropped.
  for (const scheme of ['tls', 'wss'] as const) {
    it(`${scheme}:// passes the TLS options on (servername is sent as SNI)`, async () => {
      const names: string[] = [];
      const context = tls.createSecureContext({ key, cert });
      const SNICallback = (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => {
        names.push(name);
        cb(null, context);
      };
      const acceptor = new Acceptor<Transport>();
      const o = { host: HOST, port: 0, key, cert, SNICallback };
      const listener: Listener =
        scheme === 'tls' ? await listenTls(o, acceptor.accept) : await listenWs(o, acceptor.accept);
      cleanup.push(() => listener.close());
      const url = `${scheme}://${HOST}:${listener.address.port}${scheme === 'wss' ? '/flex/ws' : ''}`;
      const open = connector(url, {
        password: 'p',
        domain: 'd',
        tls: { ca: cert, servername: 'localhost' },
      });
      await pair(acceptor, open(new AbortController().signal));
      expect(names).toEqual(['localhost']);
    });
  }
});
