import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveForward } from '../../src/cli/node.js';
import { connect } from '../../src/connect.js';
import type { NodeSession } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { splice } from '../../src/splice.js';
import { dialTcp } from '../../src/transport/tcp.js';
import { silentLogger } from '../../src/util/logger.js';
import { exchange } from '../helpers/exchange.js';
import { killChildren, spawnScript } from '../helpers/faulty-process.js';

/**
 * A `flexmux node --forward` connection whose stream was still being opened when the switcher
 * went away: nothing has reached the local client yet, so it waits for the reconnection within
 * --dial-timeout, as a connection made a moment later does.
 */

const PASSWORD = 'forward-reconnect';
const SWITCHER = 'test/fault/fixtures/switcher-child.ts';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await killChildren();
});

function session(port: number, domain: string): NodeSession {
  const s = connect(`tcp://127.0.0.1:${port}`, {
    password: PASSWORD,
    domain,
    heartbeatInterval: 0,
    backoffInitial: 50,
    backoffMax: 100,
  });
  cleanups.push(() => s.close());
  return s;
}

describe('a forwarded connection whose dial was in flight when the switcher died', () => {
  it('waits for the reconnection and gets its stream then', async () => {
    // A switcher in its own process, to be SIGKILLed: in this one, close() would refuse the dial
    // on its way out instead.
    const first = spawnScript(SWITCHER, [PASSWORD, '0']);
    const port = Number((await first.waitFor(/^LISTENING (\d+)$/))[1]);
    // The target's first node takes the open and never answers it: the dial stays in flight.
    const raw = await dialTcp('127.0.0.1', port, {});
    const mute = await admit(raw, { password: PASSWORD, domain: 'alice', timeout: 5_000 });
    let opened: () => void = () => {};
    const openSeen = new Promise<void>((resolve) => {
      opened = resolve;
    });
    mute.transport.attach({ data: () => opened(), drain: () => {}, close: () => {} });
    cleanups.push(() => mute.transport.destroy());

    const bob = session(port, 'bob');
    await bob.ready();
    const server = await serveForward(
      bob,
      { localPort: 0, domain: 'alice', port: 22 },
      { bind: '127.0.0.1', dialTimeout: 10_000 },
      { splice },
      silentLogger,
      { waits: { target: () => false, session: () => bob.state !== 'closed' && bob.state !== 'ready' } },
    );
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const answer = exchange((server.address() as net.AddressInfo).port, 'hello');
    await openSeen;

    // The switcher dies with the dial unanswered, and comes back with alice serving port 22.
    await first.kill();
    await spawnScript(SWITCHER, [PASSWORD, String(port)]).waitFor(/^LISTENING/);
    const alice = session(port, 'alice');
    alice.listen(22).on('stream', (s) => s.on('error', () => {}).pipe(s));
    // Before: the dial failed with 'connection closed' and the local connection was reset,
    // although nothing had reached it and --dial-timeout had most of its time left.
    expect(await answer).toBe('hello');
  });
});
