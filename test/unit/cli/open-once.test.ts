import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeError } from '../../../src/cli/exit.js';
import { PASSWORD_ENV } from '../../../src/cli/secret.js';
import { openOnce } from '../../../src/cli/session.js';
import { connect } from '../../../src/connect.js';
import { AbortError, TimeoutError } from '../../../src/errors.js';
import { FlexStream } from '../../../src/face/duplex.js';
import { BaseNode } from '../../../src/node/node.js';
import { Session } from '../../../src/node/session.js';
import type { Transport } from '../../../src/transport/types.js';
import { freePort } from '../../helpers/ports.js';

// connect() as it is, unless a test makes its session itself (one whose attempt hangs).
vi.mock('../../../src/connect.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/connect.js')>();
  return { ...real, connect: vi.fn(real.connect) };
});

/** openOnce(): the one-shot session of `flexmux dial` and `flexmux ping`. */

const saved = process.env[PASSWORD_ENV];
afterEach(() => {
  vi.useRealTimers();
  if (saved === undefined) delete process.env[PASSWORD_ENV];
  else process.env[PASSWORD_ENV] = saved;
});

describe('openOnce', () => {
  it('takes a --connect-timeout whose doubled deadline passes 2^31-1 ms', async () => {
    // 300h is a valid duration; twice it plus 1 s is not a delay a timer can take, and the wait
    // for readiness failed at once (Node ran it after 1 ms, later a ConfigError) instead of
    // reporting what really happened to the attempt.
    process.env[PASSWORD_ENV] = 'open-once';
    const port = await freePort();
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

describe('openOnce with the default switcher URL', () => {
  // A config file like docs/cli.md's sets the URL in its node: section only: dial and ping then
  // went to tcp://127.0.0.1:7000 and said just 'connect ECONNREFUSED', not that no URL was given.
  it('says the URL was the default when it cannot connect, and how to set one', async () => {
    process.env[PASSWORD_ENV] = 'open-once';
    const port = await freePort();
    const o = {
      switcher: `tcp://127.0.0.1:${port}`,
      connectTimeout: 5_000,
      logLevel: 'error' as const,
      logFormat: 'json' as const,
    };
    const fail = (isDefault: boolean) =>
      openOnce(o, 'once', pino({ level: 'silent' }), isDefault).then(
        (s): Promise<Error & { code?: string }> => s.close().then(() => new Error('connected')),
        (e: unknown) => e as Error & { code?: string },
      );
    const hinted = await fail(true);
    expect(hinted.code).toBe('FLEX_ERR_CONNECTION_CLOSED');
    expect(hinted.message).toMatch(/ECONNREFUSED/);
    expect(hinted.message).toContain(
      `(no switcher URL was given, so tcp://127.0.0.1:${port} is the default: pass -s URL, set FLEXMUX_SWITCHER, or set switcher: in the config file's dial: or ping: section)`,
    );
    const plain = await fail(false);
    expect(plain.code).toBe('FLEX_ERR_CONNECTION_CLOSED');
    expect(plain.message).not.toContain('default');
  });
});

describe('openOnce when the session is not ready in time', () => {
  it('keeps the library timeout as the cause of its own', async () => {
    process.env[PASSWORD_ENV] = 'open-once';
    // The library's session, with a connector that neither connects nor fails (a transport
    // stuck past its own bound) until the session closes: only ready()'s timer ends the wait.
    vi.mocked(connect).mockImplementationOnce(
      (_url, options) =>
        new Session<FlexStream>({
          ...options,
          connector: (signal) =>
            new Promise<Transport>((_, reject) =>
              signal.addEventListener('abort', () => reject(new AbortError()), { once: true }),
            ),
          makeNode: (t, nodeOptions) => new BaseNode(t, nodeOptions, (core) => new FlexStream(core)),
        }),
    );
    // Fake, or the wait is connectTimeout * 2 + 1 s of wall clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const settled = openOnce(
      { switcher: 'tcp://u:pw@127.0.0.1:7000', connectTimeout: 100, logLevel: 'error', logFormat: 'json' },
      'once',
      pino({ level: 'silent' }),
    ).then(
      (s) => s.close().then(() => new Error('connected')),
      (e: unknown) => e as Error,
    );
    await vi.advanceTimersByTimeAsync(1_200);
    const err = await settled;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe('no connection to tcp://u:***@127.0.0.1:7000 within 1200 ms');
    // Before, a new TimeoutError without it: the library's error and its stack were lost.
    expect(err.cause).toBeInstanceOf(TimeoutError);
    expect((err.cause as Error).message).toBe('session not ready after 1200 ms');
    // The final line does not repeat a cause of the same kind that says nothing more.
    expect(describeError(err)).toBe(
      'no connection to tcp://u:***@127.0.0.1:7000 within 1200 ms [FLEX_ERR_TIMEOUT]',
    );
  });
});
