import { getEventListeners } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import { AbortError, ConfigError } from '../../src/errors.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';

/** connect()'s `signal`: the Node.js counterpart of the browser connect()'s ws.signal. */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP server that takes connections and never answers the admission. */
async function silentSwitcher(): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  const sockets: net.Socket[] = [];
  let first!: (s: net.Socket) => void;
  const accepted = new Promise<net.Socket>((r) => (first = r));
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    first(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

describe('connect() with a signal', () => {
  it('an abort during admission fails the attempt with AbortError and closes the session', async () => {
    const { port, accepted } = await silentSwitcher();
    const ac = new AbortController();
    const session = connect(`tcp://127.0.0.1:${port}`, {
      password: 'p',
      domain: 'signal',
      admissionTimeout: 60_000,
      signal: ac.signal,
    });
    cleanups.push(() => session.close());
    const socket = await accepted;
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    const failed = new Promise<Error>((r) => session.once('disconnect', r));
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    ac.abort();
    expect(await failed).toBeInstanceOf(AbortError);
    await closed;
    await ended; // the connection of the aborted attempt is closed too
    expect(session.state).toBe('closed');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('an abort while connected leaves the connection up; when it drops, the session closes', async () => {
    const sw = new Switcher({ password: 'p' });
    const listener = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
    cleanups.push(async () => {
      await listener.close();
      await sw.close({ timeout: 500 });
    });
    const ac = new AbortController();
    const session = connect(`tcp://127.0.0.1:${listener.address.port}`, {
      password: 'p',
      domain: 'aborted-later',
      signal: ac.signal,
    });
    cleanups.push(() => session.close());
    await session.ready({ timeout: 5_000 });
    ac.abort();
    expect(session.state).toBe('ready');
    const closed = new Promise<void>((r) => session.once('close', () => r()));
    expect(sw.kick('aborted-later')).toBe(true);
    await closed;
    expect(session.state).toBe('closed');
  });

  it('refuses a signal that is not one', () => {
    expect(() =>
      connect('tcp://127.0.0.1:1', { password: 'p', domain: 'signal', signal: {} as AbortSignal }),
    ).toThrow(ConfigError);
  });
});
