import type * as net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type ForwardWaits, serveForward } from '../../src/cli/node.js';
import { BaseNode, type FlexStream, FlexStream as FS, Session } from '../../src/index.js';
import { splice } from '../../src/splice.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import type { Logger } from '../../src/util/logger.js';
import { exchange } from '../helpers/exchange.js';

/**
 * A `flexmux node --forward` connection whose target is not there while it may wait for it
 * (just after a (re)connection, or with --wait-for-target): its dial is made again, with the
 * library's loop (session.dial's waitForTarget), until the target is there.
 */

const PASSWORD = 'forward-wait-target';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function session(sw: Switcher, domain: string): Session<FlexStream> {
  const s = new Session<FlexStream>({
    connector: async () => {
      const [a, b] = memoryPair();
      sw.handle(b);
      return a as Transport;
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FS(core)),
    password: PASSWORD,
    domain,
    heartbeatInterval: 0,
  });
  cleanups.push(() => s.close());
  return s;
}

/** A logger whose debug lines with message `msg` call `seen` (an event to wait on). */
function loggerSeeing(msg: string, seen: (obj: object) => void): Logger {
  const noop = (): void => {};
  return { debug: (obj, m) => (m === msg ? seen(obj) : undefined), info: noop, warn: noop, error: noop };
}

async function forward(bob: Session<FlexStream>, waits: ForwardWaits, logger: Logger): Promise<number> {
  const server = await serveForward(
    bob,
    { localPort: 0, domain: 'alice', port: 22 },
    { bind: '127.0.0.1', dialTimeout: 10_000 },
    { splice },
    logger,
    { waits },
  );
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

describe('a forwarded connection whose target is not there yet', () => {
  it('waits for a node that is back but not listening on the port yet', async () => {
    const sw = new Switcher({ password: PASSWORD });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    const alice = session(sw, 'alice');
    const bob = session(sw, 'bob');
    await Promise.all([alice.ready({ timeout: 5_000 }), bob.ready({ timeout: 5_000 })]);
    let refused: (obj: object) => void = () => {};
    const firstRefusal = new Promise<object>((resolve) => {
      refused = resolve;
    });
    const port = await forward(
      bob,
      { target: () => true, session: () => false },
      loggerSeeing('dial waiting for its target', (o) => refused(o)),
    );
    const answer = exchange(port, 'hello');
    // Whichever comes first: before, the client was reset rather than the dial made again.
    const first = await Promise.race([firstRefusal, answer.then((text) => ({ answer: text }))]);
    expect(first).toMatchObject({
      target: 'alice:22',
      err: 'dial alice:22 refused: listener not found',
      code: 'FLEX_ERR_DIAL_REFUSED',
    });
    // Alice's application listens a moment after its node is back (a Go node listens after it
    // connects). Before, only an unknown domain was waited for.
    alice.listen(22).on('stream', (s: FlexStream) => {
      pipeline(s, s).catch(() => {});
    });
    expect(await answer).toBe('hello');
  });

  it('is reset at once when the target may not wait', async () => {
    const sw = new Switcher({ password: PASSWORD });
    cleanups.push(() => sw.close({ timeout: 1_000 }));
    const bob = session(sw, 'bob');
    await bob.ready({ timeout: 5_000 });
    const port = await forward(
      bob,
      { target: () => false, session: () => false },
      loggerSeeing('', () => {}),
    );
    expect(await exchange(port, 'hello')).toBe('failed: ECONNRESET');
  });
});
