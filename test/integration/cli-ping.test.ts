import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { killAll, runCli, startSwitcher } from '../helpers/cli.js';

/** `flexmux ping` as a script uses it: its report read by a pipe that may close early. */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const ENV = { FLEXMUX_PASSWORD: 'test-password' };

afterEach(() => killAll());
afterAll(() => killAll(true));

describe('flexmux ping', () => {
  let tcp = '';
  let ws = '';

  beforeAll(async () => {
    ({ tcp, ws } = await startSwitcher(['--tcp', '127.0.0.1:0', '--ws', '127.0.0.1:0'], ENV, {
      shared: true,
    }));
  });

  it('does not print the password of a user:password@ in the switcher URL', async () => {
    // ws sends it as basic authentication, for a proxy on the way; the switcher ignores it.
    const url = ws.replace('ws://', 'ws://relay-user:s3cret-pw@');
    const ping = runCli(['ping', '-c', '1', '-s', url], { env: ENV });
    expect(await ping.exited).toBe(0);
    expect(ping.stdout).toContain(`PING switcher via ${ws.replace('ws://', 'ws://relay-user:***@')}\n`);
    expect(ping.stdout).not.toContain('s3cret');
  });

  it('stops quietly when its reader goes away (`| head -2`), exiting 0 after a reply', async () => {
    const ping = runCli(['ping', '-s', tcp, '-i', '50ms'], { env: ENV });
    await ping.waitForStdout('reply from switcher: seq=1');
    // The reader closes its end: the next line meets EPIPE.
    ping.proc.stdout?.destroy();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      ping.exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still pinging 10 s after its reader left'), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(code).toBe(0);
    // Nothing but JSON log lines on stderr: no stack trace of an unhandled EPIPE.
    expect(ping.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
  });
});
