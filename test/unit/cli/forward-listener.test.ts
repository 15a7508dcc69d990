import type * as net from 'node:net';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listenForward, serveForward } from '../../../src/cli/node.js';
import type { NodeSession } from '../../../src/connect.js';
import { DialRefusedError } from '../../../src/errors.js';
import type { Logger } from '../../../src/util/logger.js';

function recordingLogger(): Logger & { warns: { obj: object; msg?: string }[] } {
  const warns: { obj: object; msg?: string }[] = [];
  const noop = (): void => {};
  return { debug: noop, info: noop, error: noop, warn: (obj, msg) => warns.push({ obj, msg }), warns };
}

describe('a --forward listener after it is bound', () => {
  let server: net.Server | null = null;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('logs failed accepts and keeps listening (a second one used to end the process)', async () => {
    const logger = recordingLogger();
    // No connection arrives, so neither the session nor the tunnels are touched.
    server = await serveForward(
      {} as NodeSession,
      { localPort: 0, domain: 'bob', port: 22 },
      { bind: '127.0.0.1', dialTimeout: 1_000 },
      { splice: () => Promise.resolve(undefined) },
      logger,
    );
    const err = Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS' });
    server.emit('error', err);
    server.emit('error', err);
    expect(server.listening).toBe(true);
    expect(logger.warns).toHaveLength(2);
    expect(logger.warns[0]).toMatchObject({
      msg: 'accept failed',
      obj: { target: 'bob:22', code: 'ENOBUFS', err: 'accept ENOBUFS' },
    });
  });
});

describe('a --forward connection waiting for its target at shutdown', () => {
  let server: net.Server | null = null;
  /** Both ends of the client's connection: one still held (the test failed) keeps server.close() waiting. */
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('stops waiting at once when the shutdown aborts, not after its pause', async () => {
    // Only the redial pause's timer is faked, and never run: the client can be let go only by
    // the abort. Before, it was held until the pause (100 ms, up to 1 s) ran out.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let refused: () => void = () => {};
    const pausing = new Promise<void>((resolve) => {
      refused = resolve;
    });
    const noop = (): void => {};
    const logger: Logger = {
      debug: (_obj, msg) => (msg === 'dial waiting for its target' ? refused() : undefined),
      info: noop,
      warn: noop,
      error: noop,
    };
    // The target's node is there but not listening: every dial is refused, and made again later.
    const session = {
      dial: () => Promise.reject(new DialRefusedError('listener not found', { target: 'bob:22' })),
    } as unknown as NodeSession;
    const stop = new AbortController();
    server = await serveForward(
      session,
      { localPort: 0, domain: 'bob', port: 22 },
      { bind: '127.0.0.1', dialTimeout: 60_000 },
      { splice: () => Promise.resolve(undefined) },
      logger,
      { waits: { target: () => true, session: () => false }, stop: stop.signal },
    );
    server.on('connection', (s: net.Socket) => sockets.push(s));
    const { port } = server.address() as net.AddressInfo;
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await pausing;
    stop.abort();
    // A real-time bound (node:timers/promises is not faked), generous: only a dial that still
    // waits for its pause's timer, which never runs here, reaches it.
    const done = new AbortController();
    const bound = delay(10_000, 'still held', { signal: done.signal }).catch(() => 'cancelled');
    const outcome = await Promise.race([closed.then(() => 'let go'), bound]);
    done.abort();
    expect(outcome).toBe('let go');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('a --forward connection held by a reload that fails', () => {
  let server: net.Server | null = null;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('is reset, not ended like a finished one', async () => {
    // Before, it was closed with a FIN: a client that reads until the end took the connection it
    // was never given for an empty answer, where a failed dial resets it.
    const noop = (): void => {};
    const logger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
    let admit: (ok: boolean) => void = () => {};
    const admitted = new Promise<boolean>((resolve) => {
      admit = resolve;
    });
    server = await listenForward(
      { dial: () => Promise.reject(new Error('not dialled')) } as unknown as NodeSession,
      { localPort: 0, domain: 'bob', port: 22 },
      { bind: '127.0.0.1', dialTimeout: 1_000 },
      { splice: () => Promise.resolve(undefined) },
      logger,
      { admitted },
    );
    const accepted = new Promise<void>((resolve) =>
      server?.on('connection', (s: net.Socket) => {
        sockets.push(s);
        resolve();
      }),
    );
    const { port } = server.address() as net.AddressInfo;
    const socket = connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    socket.resume();
    const outcome = new Promise<string>((resolve) => {
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on('end', () => resolve('end'));
    });
    await accepted;
    admit(false);
    expect(await outcome).toBe('ECONNRESET');
  });
});
