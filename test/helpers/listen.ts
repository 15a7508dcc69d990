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
