import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, killAll, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux ping --wait-for-target`: a ping made while its target's node is not back yet (a
 * switcher restarted a moment ago), or while the switcher itself is not up, waits for it within
 * --timeout; without the flag, the answer `domain not found` counts as a lost ping at once, and a
 * switcher that is not there ends the command (exit 6).
 */

// Each CLI process starts through a bundle: allow for a loaded machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const ENV = { FLEXMUX_PASSWORD: 'ping-wait-target' };
let tcp = '';

beforeAll(async () => {
  tcp = (await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true })).tcp;
});
afterEach(() => killAll());
afterAll(() => killAll(true));

/** Resolves once `cond()` holds, checked every 50 ms; fails after 45 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 45_000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`no ${what} within 45 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('flexmux ping --wait-for-target', () => {
  it('waits for a target whose node is not there yet and gets its reply once it is', async () => {
    const ping = runCli(
      ['ping', 'late', '-c', '1', '-s', tcp, '--wait-for-target', '-W', '60s', '--log-level', 'debug'],
      { env: ENV },
    );
    // Answered `domain not found` at least once before the target's node exists.
    const waiting = await ping.waitForLog('ping waiting for its target');
    expect(waiting).toMatchObject({ target: 'late', err: 'ping late failed: domain not found' });
    runCli(['node', '-s', tcp, '-d', 'late'], { env: ENV });
    expect(await ping.exited).toBe(0);
    expect(ping.stdout).toContain('reply from late: seq=1 ');
  });

  it('runs out at --timeout, the ping lost (exit 8), naming the last answer', async () => {
    const r = await runCliToEnd(['ping', 'never', '-c', '1', '-s', tcp, '--wait-for-target', '-W', '1s'], {
      env: ENV,
    });
    expect(r.code).toBe(8);
    expect(r.stdout).toContain(
      // Before: `...; last answer: ping never failed: domain not found`, the name said twice.
      'no reply from never: seq=1: timed out after 1000 ms waiting for its target; last answer: domain not found\n',
    );
  });

  it('without it, a target that is not there is lost at once', async () => {
    // Well within -W: one that waited would be killed, and the test failed, at 30 s.
    const r = await runCliToEnd(['ping', 'never', '-c', '1', '-s', tcp, '-W', '60s'], {
      env: ENV,
      timeout: 30_000,
    });
    expect(r.code).toBe(8);
    expect(r.stdout).toContain('no reply from never: seq=1: domain not found\n');
  });
});

describe('flexmux ping --wait-for-target, the switcher down', () => {
  it('waits for a switcher that is not up yet, and gets its reply', async () => {
    const port = await freePort();
    const ping = runCli(
      [
        'ping',
        '-c',
        '1',
        '-s',
        `tcp://127.0.0.1:${port}`,
        '--wait-for-target',
        '-W',
        '60s',
        '--log-level',
        'debug',
      ],
      { env: ENV },
    );
    // Refused at least once before the switcher exists. Before: exit 6 at this first failure.
    const failed = await ping.waitForLog('session attempt failed');
    expect(failed.err).toContain('ECONNREFUSED');
    await startSwitcher(['--tcp', `127.0.0.1:${port}`], ENV);
    expect(await ping.exited).toBe(0);
    expect(ping.stdout).toContain('reply from switcher: seq=1 ');
  });

  it('a switcher still not up when --timeout runs out: the ping is lost (exit 8), naming the last attempt', async () => {
    const r = await runCliToEnd(
      ['ping', '-c', '1', '-s', `tcp://127.0.0.1:${await freePort()}`, '--wait-for-target', '-W', '1s'],
      { env: ENV },
    );
    expect(r.code).toBe(8);
    expect(r.stdout).toMatch(
      // Before: `session not ready in time; last attempt: ...`, without the time.
      /no reply from switcher: seq=1: timed out after 1000 ms waiting for the switcher; last attempt: .*ECONNREFUSED/,
    );
  });

  it('goes on across a switcher restart', async () => {
    const port = await freePort();
    const url = `tcp://127.0.0.1:${port}`;
    const first = await startSwitcher(['--tcp', `127.0.0.1:${port}`], ENV);
    const ping = runCli(
      ['ping', '-s', url, '--wait-for-target', '-i', '100ms', '-W', '60s', '--log-level', 'debug'],
      {
        env: ENV,
      },
    );
    await ping.waitForStdout('\nreply from switcher: seq=1 ');
    const before = ping.logs.length;
    first.child.proc.kill('SIGKILL');
    await ping.waitForLog('session attempt failed', (l) => ping.logs.indexOf(l) >= before);
    await startSwitcher(['--tcp', `127.0.0.1:${port}`], ENV);
    await ping.waitForLog('session ready', (l) => ping.logs.indexOf(l) >= before);
    // A reply over the new connection. Before: exit 6 when the connection was lost.
    const replies = (): number => ping.stdout.split('\n').filter((l) => l.startsWith('reply from')).length;
    const had = replies();
    await until(() => replies() > had, 'a reply after the restart');
    ping.proc.kill('SIGINT');
    expect(await ping.exited).toBe(0);
  });

  it('does not wait out a refused admission (wrong password): exit 3 at once', async () => {
    const r = await runCliToEnd(['ping', '-c', '1', '-s', tcp, '--wait-for-target', '-W', '60s'], {
      env: { FLEXMUX_PASSWORD: 'not-the-password' },
      timeout: 30_000,
    });
    expect(r.code).toBe(3);
  });
});
