import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, BaseNode, type FlexStream, FlexStream as FS, Session } from '../../src/index.js';
import type { Transport } from '../../src/transport/types.js';
import { rawLink } from '../helpers/raw.js';

/**
 * Node API lifecycle defects found by an audit of the public Node API against docs/manual.md and
 * docs/errors.md; each test failed before its fix.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node whose peer never answers anything (a raw peer that only records frames). */
function silentNode() {
  const link = rawLink({ heartbeatInterval: 0 });
  cleanups.push(() => link.node.destroy());
  return link.node;
}

/** A session whose connection attempts never complete until the session closes. */
function stuckSession(): Session<FlexStream> {
  const s = new Session<FlexStream>(
    (signal) =>
      new Promise<Transport>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    { password: 'p', domain: 'stuck', heartbeatInterval: 0 },
    (t, o) => new BaseNode(t, o, (core) => new FS(core)),
  );
  cleanups.push(() => s.close());
  return s;
}

describe('node API lifecycle', () => {
  it("an AbortError carries the signal's reason as its cause, whenever the signal fires", async () => {
    // docs/errors.md: "`cause` holds the signal's reason" for dial, accept, ping and waits.
    const node = silentNode();
    const l = node.listen(5);
    const session = stuckSession();
    const reason = new Error('user gave up');
    const before = new AbortController();
    before.abort(reason);
    const during = new AbortController();
    const pending = [
      node.dial('bob:80', { signal: during.signal }),
      l.accept({ signal: during.signal }),
      node.ping('', { signal: during.signal }),
      session.ready({ signal: during.signal }),
      session.dial('bob:80', { wait: true, signal: during.signal }),
    ].map((p) =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
    );
    const early = [
      node.dial('bob:80', { signal: before.signal }),
      l.accept({ signal: before.signal }),
      node.ping('', { signal: before.signal }),
      session.ready({ signal: before.signal }),
    ].map((p) =>
      p.then(
        () => 'resolved',
        (e: unknown) => e,
      ),
    );
    during.abort(reason);
    for (const e of await Promise.all([...pending, ...early])) {
      expect(e).toBeInstanceOf(AbortError);
      expect((e as AbortError).cause).toBe(reason);
    }
  });
});
