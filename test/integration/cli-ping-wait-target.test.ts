import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { killAll, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux ping --wait-for-target`: a ping made while its target's node is not back yet (a
 * switcher restarted a moment ago) waits for it within --timeout; without the flag, the answer
 * `domain not found` counts as a lost ping at once.
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
      'no reply from never: seq=1: timed out after 1000 ms waiting for its target; last answer: ping never failed: domain not found\n',
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
