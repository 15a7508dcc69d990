import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveExpose } from '../../../src/cli/node.js';
import type { NodeSession } from '../../../src/connect.js';
import type { FlexStream } from '../../../src/face/duplex.js';
import { splice } from '../../../src/splice.js';
import type { Logger } from '../../../src/util/logger.js';
import { freePort } from '../../helpers/ports.js';

/**
 * An exposed port's connection to its target is bounded (--expose-connect-timeout). Before, a
 * target host that dropped the SYN left the stream, and the client at the far end, waiting until
 * the kernel gave up (about 2 minutes), with nothing logged at warn until then. A real blackhole
 * cannot be made here: the connection is given by a connector whose socket never connects, and
 * the timer is faked.
 */

const noop = (): void => {};

/** A stand-in for a flex stream: the tunnel code only pipes it. */
function fakeStream(): FlexStream {
  const d = new Duplex({ allowHalfOpen: true, read() {}, write: (_c, _e, cb) => cb() });
  return Object.assign(d, { remoteDomain: 'alice', remoteAddress: '0.0.0.1' }) as unknown as FlexStream;
}

/** A session whose virtual port is served by hand: the test emits its streams. */
function fakeSession(): { session: Pick<NodeSession, 'listen'>; port: EventEmitter } {
  const port = Object.assign(new EventEmitter(), { close: noop });
  return { session: { listen: () => port } as unknown as Pick<NodeSession, 'listen'>, port };
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanup.splice(0)) c();
});

describe('an exposed stream whose target does not answer', () => {
  it('is reset once --expose-connect-timeout runs out, and the reason logged at warn', async () => {
    // Not where the connector connects: a port refused at once, which fails the checks below.
    const target = { host: '127.0.0.1', port: await freePort() };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let warned: (w: { obj: object; msg?: string }) => void = noop;
    const warn = new Promise<{ obj: object; msg?: string }>((resolve) => {
      warned = resolve;
    });
    const logger: Logger = { debug: noop, info: noop, error: noop, warn: (obj, msg) => warned({ obj, msg }) };
    const { session, port } = fakeSession();
    serveExpose(session, { port: 22, target }, { splice: (s, socket) => splice(socket, s) }, logger, {
      connectTimeout: 3_000,
      // A socket that never connects, as one to a host that drops the SYN.
      connect: () => {
        const socket = new net.Socket({ allowHalfOpen: true });
        cleanup.push(() => socket.destroy());
        return socket;
      },
    });
    const stream = fakeStream();
    stream.on('error', noop);
    cleanup.push(() => stream.destroy());
    port.emit('stream', stream);
    vi.advanceTimersByTime(3_000);
    const { obj, msg } = await warn;
    expect(msg).toBe('exposed connection failed');
    expect(obj).toMatchObject({ port: 22, code: 'ETIMEDOUT', err: expect.stringContaining('3000 ms') });
    expect(stream.destroyed).toBe(true);
    expect(stream.errored).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('is not cut off once connected: the timer goes', async () => {
    const server = net.createServer((s) => cleanup.push(() => s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => server.close());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
    const { session, port } = fakeSession();
    const connected = new Promise<void>((resolve) => {
      serveExpose(
        session,
        { port: 22, target: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } },
        {
          splice: (stream, socket) => {
            cleanup.push(() => {
              socket.destroy();
              stream.destroy();
            });
            socket.once('connect', () => resolve());
            return Promise.resolve(undefined);
          },
        },
        logger,
        { connectTimeout: 3_000 },
      );
      port.emit('stream', fakeStream());
    });
    await connected;
    expect(vi.getTimerCount()).toBe(0);
  });
});
