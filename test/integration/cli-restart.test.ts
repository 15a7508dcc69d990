import * as net from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { killAll, runCli, startSwitcher } from '../helpers/cli.js';
import { exchange } from '../helpers/exchange.js';

/** `flexmux node` while its switcher goes away and comes back, as child processes. */

// Each CLI process starts through a bundle: allow for a loaded machine, and for the back-off.
vi.setConfig({ testTimeout: 60_000 });

const ENV = { FLEXMUX_PASSWORD: 'cli-restart' };
const servers: net.Server[] = [];

afterEach(() => killAll());
afterAll(() => {
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

describe('node --forward across a switcher restart', () => {
  it('a connection made while the switcher was down reaches a target whose node comes back after this one', async () => {
    const first = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const address = first.tcp.replace('tcp://', '');
    const service = await echoService();
    const expose = ['node', '-s', first.tcp, '-d', 'alice', '-e', `22=127.0.0.1:${service}`];
    const alice = runCli(expose, { env: ENV });
    const bob = runCli(['node', '-s', first.tcp, '-d', 'bob', '-f', '0=alice:22', '--dial-timeout', '30s'], {
      env: ENV,
    });
    await alice.waitForLog('session ready');
    await bob.waitForLog('session ready');
    const port = Number(String((await bob.waitForLog('forwarding')).listen).split(':')[1]);
    expect(await exchange(port, 'before')).toBe('before');

    // The switcher goes, and alice with it (its node restarts later than bob's reconnects).
    const down = bob.logs.length;
    alice.proc.kill('SIGKILL');
    first.child.proc.kill('SIGKILL');
    await Promise.all([alice.exited, first.child.exited]);
    await bob.waitForLog('session disconnected');
    // Made while bob is disconnected: it waits for bob's session, then for alice.
    const during = exchange(port, 'during');
    await startSwitcher(['--tcp', address], ENV);
    await bob.nextLog('session ready', { after: down, timeout: 30_000 });
    runCli(expose, { env: ENV });
    // Before: the dial went out as soon as bob was back, was refused with 'resolve domain
    // failed' since alice was not, and the connection was reset.
    expect(await during).toBe('during');
    expect(bob.logs.filter((l) => l.msg === 'dial failed')).toEqual([]);
  });
});
