import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import type { Listener } from '../../../src/transport/tcp.js';
import { dialTls, listenTls } from '../../../src/transport/tls.js';
import type { Transport } from '../../../src/transport/types.js';
import { dialWs, listenWs } from '../../../src/transport/ws.js';
import { certA, certB, servedFingerprint } from '../../helpers/certs.js';
import { Acceptor, attachProbe } from './probe.js';

const HOST = '127.0.0.1';

type Kind = 'tls' | 'wss';

async function listen(kind: Kind, acceptor: Acceptor<Transport>): Promise<Listener> {
  const o = { host: HOST, port: 0, key: certA.key, cert: certA.cert };
  return kind === 'tls' ? listenTls(o, acceptor.accept) : listenWs(o, acceptor.accept);
}

function dial(kind: Kind, port: number, ca: Buffer): Promise<Transport> {
  return kind === 'tls' ? dialTls(HOST, port, { ca }) : dialWs(`wss://${HOST}:${port}/flex/ws`, { ca });
}

describe.each(['tls', 'wss'] as const)('a %s listener given a new certificate', (kind) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('serves it to new handshakes while a connection made before keeps going', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(kind, acceptor);
    cleanup.push(() => listener.close());
    const port = listener.address.port;
    const a = await dial(kind, port, certA.cert);
    const b = await acceptor.next();
    cleanup.push(() => {
      a.destroy();
      b.destroy();
    });
    const [pa, pb] = [attachProbe(a), attachProbe(b)];
    expect(await servedFingerprint(port)).toBe(certA.fingerprint);

    listener.setSecureContext?.({ key: certB.key, cert: certB.cert });
    expect(await servedFingerprint(port)).toBe(certB.fingerprint);
    const c = await dial(kind, port, certB.cert);
    cleanup.push(() => c.destroy());
    const d = await acceptor.next();
    cleanup.push(() => d.destroy());

    // The connection from before still carries bytes both ways.
    a.send([Uint8Array.of(1, 2, 3)]);
    b.send([Uint8Array.of(4, 5)]);
    await pb.until(() => pb.bytes === 3, 'bytes from the old client');
    await pa.until(() => pa.bytes === 2, 'bytes to the old client');
    expect(pa.closes).toEqual([]);
  });

  it('refuses a key that does not match the certificate, and keeps serving the old one', async () => {
    const acceptor = new Acceptor<Transport>();
    const listener = await listen(kind, acceptor);
    cleanup.push(() => listener.close());
    const port = listener.address.port;
    expect(listener.setSecureContext).toBeTypeOf('function');
    expect(() => listener.setSecureContext?.({ key: certA.key, cert: certB.cert })).toThrow(ConfigError);
    expect(await servedFingerprint(port)).toBe(certA.fingerprint);
    const a = await dial(kind, port, certA.cert);
    cleanup.push(() => a.destroy());
    cleanup.push(async () => (await acceptor.next()).destroy());
  });
});
