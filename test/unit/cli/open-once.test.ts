import * as net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD_ENV } from '../../../src/cli/secret.js';
import { openOnce } from '../../../src/cli/session.js';

/** openOnce(): the one-shot session of `flexmux dial` and `flexmux ping`. */

const saved = process.env[PASSWORD_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[PASSWORD_ENV];
  else process.env[PASSWORD_ENV] = saved;
});

/** A port on 127.0.0.1 that nothing listens on (it was just given back). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('openOnce', () => {
  it('takes a --connect-timeout whose doubled deadline passes 2^31-1 ms', async () => {
    // 300h is a valid duration; twice it plus 1 s is not a delay a timer can take, and the wait
    // for readiness failed at once (Node ran it after 1 ms, later a ConfigError) instead of
    // reporting what really happened to the attempt.
    process.env[PASSWORD_ENV] = 'open-once';
    const port = await closedPort();
    const err = await openOnce(
      {
        switcher: `tcp://127.0.0.1:${port}`,
        connectTimeout: 300 * 3_600_000,
        logLevel: 'error',
        logFormat: 'json',
      },
      'once',
      pino({ level: 'silent' }),
    ).then(
      (s) => s.close().then(() => new Error('connected')),
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe('FLEX_ERR_CONNECTION_CLOSED');
  });
});
