import * as net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, it, vi } from 'vitest';
import { type CliChild, killAll, ROOT, runCli } from '../helpers/cli.js';

/**
 * A second SIGINT/SIGTERM ends a long-running command at once, also while it is still starting
 * (src/cli/shutdown.ts). The start-up is held by a DNS lookup that never answers (a listener on a
 * host name, as with a hanging resolver): the first signal arrived then, but start-up went on, and
 * every later signal was ignored until it finished.
 */

vi.setConfig({ testTimeout: 60_000 });
afterEach(() => killAll());

const HELD_HOST = 'held-startup.invalid';
const PRELOAD = pathToFileURL(join(ROOT, 'test/helpers/held-lookup.mjs')).href;
const env = { FLEXMUX_PASSWORD: 'p', NODE_OPTIONS: `--import=${PRELOAD}` };

/** The exit code, or a failure message once the child has run `ms` past the second signal. */
function exitWithin(child: CliChild, ms: number): Promise<number | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    child.exited,
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`still running ${ms} ms after the second signal`), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('a second signal during start-up', () => {
  it.for([
    ['switcher', ['switcher', '--tcp', `${HELD_HOST}:0`]],
    ['node', ['node', '-d', 'alice', '-s', 'tcp://127.0.0.1:1', '--bind', HELD_HOST, '-f', '0=bob:22']],
  ] as const)('%s: exits 1 at once', async ([, args], { expect }) => {
    const child = runCli(args, { env });
    await child.waitForLog('test: lookup held');
    child.proc.kill('SIGINT');
    await child.waitForLog('stopping');
    child.proc.kill('SIGTERM');
    expect(await exitWithin(child, 10_000)).toBe(1);
    expect(child.logs.find((l) => l.msg === 'second signal: exiting now')?.signal).toBe('SIGTERM');
  });
});

describe('a first signal during start-up', () => {
  it('node: stops once its listeners are bound, without connecting to the switcher', async ({ expect }) => {
    // A stand-in switcher that only counts connections: the node must not make one.
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const child = runCli(
        ['node', '-d', 'alice', '-s', `tcp://127.0.0.1:${port}`, '--bind', HELD_HOST, '-f', '0=bob:22'],
        { env },
      );
      await child.waitForLog('test: lookup held');
      child.proc.kill('SIGINT');
      await child.waitForLog('stopping');
      // The --forward listener now binds, and start-up goes on to where the session would open.
      child.proc.kill('SIGUSR2');
      expect(await exitWithin(child, 10_000)).toBe(0);
      expect(child.logs.map((l) => l.msg)).not.toContain('node started');
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a connection forwarded during start-up', () => {
  it('node: is reset at once when a signal stops the node before its session opens', async ({ expect }) => {
    // The --forward listener is bound, and start-up held at the admin server's host name: a
    // connection accepted now dials through a session that a signal will keep from ever opening.
    const child = runCli(
      [
        'node',
        ...['-d', 'alice', '-s', 'tcp://127.0.0.1:1', '-f', '0=bob:22'],
        ...['--admin', `${HELD_HOST}:0`, '--log-level', 'debug'],
      ],
      { env: { ...env, FLEXMUX_ADMIN_TOKEN: 'startup-token' } },
    );
    const listen = String((await child.waitForLog('forwarding')).listen);
    await child.waitForLog('test: lookup held');
    const client = net.connect({ host: '127.0.0.1', port: Number(listen.split(':').at(-1)) });
    client.on('error', () => {});
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await child.waitForLog('connection accepted');
    child.proc.kill('SIGINT');
    await child.waitForLog('stopping');
    child.proc.kill('SIGUSR2');
    // Before: the dial waited for a session never opened, its connection left open until the
    // process exited, and no line said why.
    const abandoned = await child.waitForLog('dial abandoned: stopping');
    expect(abandoned).toMatchObject({ target: 'bob:22', code: 'FLEX_ERR_ABORTED' });
    expect(await exitWithin(child, 10_000)).toBe(0);
    await clientClosed;
    expect(child.logs.map((l) => l.msg)).not.toContain('node started');
  });
});
