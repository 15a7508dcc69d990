import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { killAll, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux dial --wait-for-target`: a dial made while its target's node is not back yet (a
 * switcher restarted a moment ago) waits for it within --dial-timeout; without the flag, the
 * refusal is the command's result at once.
 */

// Each CLI process starts through a bundle: allow for a loaded machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const ENV = { FLEXMUX_PASSWORD: 'dial-wait-target' };
const servers: net.Server[] = [];
let tcp = '';

beforeAll(async () => {
  tcp = (await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true })).tcp;
});
afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  for (const s of servers.splice(0)) s.close();
});

/** A TCP echo service on 127.0.0.1; resolves with its port. */
async function echoService(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('flexmux dial --wait-for-target', () => {
  it('waits for a target whose node is not there yet and joins the stream once it is', async () => {
    const dial = runCli(
      ['dial', 'late:9', '-s', tcp, '--wait-for-target', '--dial-timeout', '60s', '--log-level', 'debug'],
      { env: ENV, stdin: 'pipe' },
    );
    // Refused at least once before the target's node exists.
    const waiting = await dial.waitForLog('dial waiting for its target');
    expect(waiting).toMatchObject({ target: 'late:9', err: 'dial late:9 refused: resolve domain failed' });
    const node = runCli(['node', '-s', tcp, '-d', 'late', '-e', `9=127.0.0.1:${await echoService()}`], {
      env: ENV,
    });
    await node.waitForLog('session ready');
    dial.proc.stdin?.end('hello');
    await dial.waitForStdout('hello');
    expect(await dial.exited).toBe(0);
  });

  it('runs out at --dial-timeout with exit 5, naming the last refusal', async () => {
    const r = await runCliToEnd(['dial', 'never:9', '-s', tcp, '--wait-for-target', '--dial-timeout', '1s'], {
      env: ENV,
      input: '',
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(
      'flexmux dial: dial never:9 timed out after 1000 ms waiting for its target; last refusal: dial never:9 refused: resolve domain failed [FLEX_ERR_DIAL_TIMEOUT]\n',
    );
  });

  it('without it, a target that is not there fails at once with exit 4', async () => {
    const r = await runCliToEnd(['dial', 'never:9', '-s', tcp, '--dial-timeout', '60s'], {
      env: ENV,
      input: '',
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('dial never:9 refused: resolve domain failed [FLEX_ERR_DIAL_REFUSED]');
  });
});
