import { afterEach, describe, expect, it } from 'vitest';
import { BaseNode, ConfigError, FlexStream, memoryPair, Node, Session } from '../../../src/index.js';

/**
 * docs/errors.md: an argument of the wrong type is a ConfigError, and a call that returns a
 * promise rejects with it. ping(domain) took whatever it was given: null failed with a TypeError
 * from inside, and a number or an object went out on the wire as its text ('5',
 * '[object Object]'), the peer answering `domain not match` (a PingError).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const BAD: unknown[] = [null, 5, {}, ['peer']];

describe('a ping domain that is not a string', () => {
  it("is refused by a node's ping() with a ConfigError", async () => {
    const [a, b] = memoryPair();
    const node = new Node(a, { heartbeatInterval: 0, domain: 'here' });
    const peer = new Node(b, { heartbeatInterval: 0, domain: 'peer' });
    cleanups.push(
      () => node.destroy(),
      () => peer.destroy(),
    );
    for (const v of BAD) {
      const err = await node.ping(v as never).catch((e: unknown) => e);
      expect(err, String(v)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        `ping domain must be a string, got ${v === null ? 'null' : String(v)}`,
      );
    }
    // Left out, it is the switcher's (or here the peer's) ping, as before.
    await expect(node.ping()).resolves.toBeGreaterThanOrEqual(0);
  });

  it("is refused by a session's ping() at once, also with wait and waitForTarget", async () => {
    const session = new Session<FlexStream>({
      connector: () => new Promise(() => {}),
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: 'p',
      domain: 'waiting',
    });
    cleanups.push(() => session.close());
    for (const options of [{}, { wait: true }, { waitForTarget: true }]) {
      await expect(session.ping(5 as never, options)).rejects.toThrow(
        new ConfigError('ping domain must be a string, got 5'),
      );
    }
  });
});
