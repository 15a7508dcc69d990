import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveForward } from '../../../src/cli/node.js';
import type { NodeSession } from '../../../src/connect.js';
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
