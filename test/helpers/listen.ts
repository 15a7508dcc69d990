import * as net from 'node:net';
import { vi } from 'vitest';

/**
 * Runs `listen` and returns what it made with the net.Server it started listening, which a
 * listener keeps to itself: a test can then emit on it or watch its connections.
 */
export async function listenWithServer<T>(
  listen: () => Promise<T>,
): Promise<{ listener: T; server: net.Server }> {
  const listenSpy = vi.spyOn(net.Server.prototype, 'listen');
  try {
    const listener = await listen();
    return { listener, server: listenSpy.mock.contexts[0] as net.Server };
  } finally {
    listenSpy.mockRestore();
  }
}

/** The error a server raises when an accept fails for want of buffers (ENOBUFS). */
export function acceptFailure(): Error {
  return Object.assign(new Error('accept ENOBUFS'), {
    code: 'ENOBUFS',
    errno: -105,
    syscall: 'accept',
  });
}

/**
 * Connects to `server` on 127.0.0.1, sends `opening` and no more (a handshake or request cut
 * short), closes `listener` once the server has the connection, and waits for the connection to
 * be closed: fails if it is still open 3 s after the close (`what` names it in the error).
 * `defer` takes the clean-ups to run after the test.
 */
export async function expectCutShortClosedOnClose(
  listener: { address: { port: number }; close(): Promise<void> },
  server: net.Server,
  opening: string | Uint8Array,
  what: string,
  defer: (fn: () => void) => void,
): Promise<void> {
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const socket = net.connect({ host: '127.0.0.1', port: listener.address.port });
  socket.on('error', () => {});
  defer(() => {
    socket.destroy();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(opening);
  await accepted;
  await listener.close();
  let guard: ReturnType<typeof setTimeout> | undefined;
  const tooLong = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error(`${what} still open 3 s after close`)), 3_000);
  });
  defer(() => clearTimeout(guard));
  await Promise.race([closed, tooLong]);
}

/**
 * Connects to `port` on 127.0.0.1, sends `bytes`, and resolves to all the server wrote back by
 * the time it closed the connection; rejects if it is still open after 5 s. `defer` takes the
 * clean-ups to run after the test.
 */
export async function answerTo(
  port: number,
  bytes: string | Uint8Array,
  defer: (fn: () => void) => void,
): Promise<Buffer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  let guard: ReturnType<typeof setTimeout> | undefined;
  defer(() => {
    clearTimeout(guard);
    socket.destroy();
  });
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<Buffer>((resolve) =>
    socket.once('close', () => resolve(Buffer.concat(received))),
  );
  const tooLong = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error(`connection to ${port} still open after 5 s`)), 5_000);
  });
  socket.write(bytes);
  return Promise.race([closed, tooLong]);
}

/**
 * What a tcp:// node sends first, as a TLS server reads it: an admission frame's header (cmd 0x00;
 * bytes 1..8 random, here with a second byte that is no TLS major version, as in 255 admissions
 * of 256) and a payload.
 */
export const ADMISSION_LIKE = Buffer.concat([
  Buffer.from([0x00, 0x41, 1, 2, 3, 4, 5, 6, 7, 0x00, 0x40]),
  Buffer.alloc(0x40),
]);
