import { open } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, runCli, startSwitcher } from '../helpers/cli.js';

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

  /** The exit code, or a text saying the process still runs `ms` after `what`. */
  async function exitWithin(ping: CliChild, what: string, ms = 10_000): Promise<number | string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      ping.exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`still running ${ms / 1000} s after ${what}`), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Nothing but JSON log lines on stderr: no error line, no stack trace of an unhandled EPIPE. */
  const quiet = (ping: CliChild): string[] =>
    ping.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));

  it('stops quietly when its reader goes away (`| head -2`), exiting 141 as ping(8) does', async () => {
    const ping = runCli(['ping', '-s', tcp, '-i', '50ms'], { env: ENV });
    await ping.waitForStdout('reply from switcher: seq=1');
    // The reader closes its end: the next line meets EPIPE.
    ping.proc.stdout?.destroy();
    expect(await exitWithin(ping, 'its reader left')).toBe(141);
    expect(quiet(ping)).toEqual([]);
  });

  it('exits 141, not 8, when its reader goes away before any reply came', async () => {
    const ping = runCli(['ping', 'nobody-here', '-s', tcp, '-i', '50ms'], { env: ENV });
    await ping.waitForStdout('no reply from nobody-here: seq=1');
    ping.proc.stdout?.destroy();
    expect(await exitWithin(ping, 'its reader left')).toBe(141);
    expect(quiet(ping)).toEqual([]);
  });

  it('exits 141 when only the summary finds the reader gone (-q, then Ctrl-C)', async () => {
    // -q writes nothing between the header and the summary: the closed pipe shows only when the
    // summary goes out, after the run, and that still decides the exit code.
    const ping = runCli(['ping', '-q', '-s', tcp, '-i', '50ms'], { env: ENV });
    await ping.waitForStdout('PING switcher');
    ping.proc.stdout?.destroy();
    ping.proc.kill('SIGINT');
    expect(await exitWithin(ping, 'SIGINT')).toBe(141);
    expect(quiet(ping)).toEqual([]);
  });

  it('stops at its first line when the reader was gone before it (`-c 1000 | true`)', async () => {
    const ping = runCli(['ping', '-c', '1000', '-s', tcp, '-i', '50ms'], { env: ENV });
    // Closed before the command writes anything: its first line meets EPIPE.
    ping.proc.stdout?.destroy();
    expect(await exitWithin(ping, 'its reader left')).toBe(141);
    expect(quiet(ping)).toEqual([]);
  });

  // `flexmux ping X > file` on a disk that fills up: ENOSPC went out as it was, exit 1 (an
  // unexpected failure) in a line that did not name stdout, where dial exits 13 naming it.
  it('a stdout that fails (a full disk): exit 13, stdout named', async () => {
    const full = await open('/dev/full', 'w');
    let ping: CliChild;
    try {
      ping = runCli(['ping', '-c', '1000', '-s', tcp, '-i', '50ms'], { env: ENV, stdout: full.fd });
    } finally {
      await full.close();
    }
    expect(await exitWithin(ping, 'its first line failed')).toBe(13);
    expect(ping.stderr).toMatch(/^flexmux ping: stdout failed before the run ended: ENOSPC: .*\[CLI_IO\]$/m);
  });
});

describe('flexmux ping when its switcher stops answering', () => {
  // Found by the CLI review: after Ctrl-C printed the summary, ping waited for its session's
  // close without a bound of its own, so a switcher that had gone away (hung, or the network
  // gone) held it for the transport's closeTimeout (5 s); dial bounds that wait to 1 s. A second
  // Ctrl-C meanwhile met Node's default (130), where docs/cli.md says it exits 1.
  it('exits within a second or so of its summary, not after the transport gives up on the close', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const ping = runCli(['ping', '-s', sw.tcp, '-i', '100ms', '-W', '1'], { env: ENV });
    try {
      await ping.waitForStdout('reply from switcher: seq=1');
      // The switcher stops answering anything, the close included; the kernel still acks.
      sw.child.proc.kill('SIGSTOP');
      ping.proc.kill('SIGINT');
      await ping.waitForStdout('ping statistics');
      const summaryAt = performance.now();
      const code = await ping.exited;
      // 1 s of bound, and room for a loaded machine; 5 s without the bound.
      expect(performance.now() - summaryAt).toBeLessThan(3_500);
      expect(code).toBe(0);
    } finally {
      sw.child.proc.kill('SIGCONT');
    }
  });
});
