import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { ConnectionClosedError, type FlexStream, type Node, StreamClosedError } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { links, nodePair } from '../helpers/links.js';
import { once, readAll } from '../helpers/streams.js';

/**
 * A stream torn down under its application (its node destroyed, or its core aborted without an
 * error) has not ended: it fails with an error, so code that listens only for 'error' (the CLI's
 * `dial` did) does not take it for a complete transfer. A stream the application destroys itself,
 * and one that ends both ways, stay free of errors.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** `s` dialled by alice's node `a`, `peer` accepted by bob's; what `s` emits goes to `events`. */
async function open(): Promise<{ a: Node; s: FlexStream; peer: FlexStream; events: string[] }> {
  const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
  cleanups.push(nodes.close);
  nodes.a.on('error', () => {});
  nodes.b.on('error', () => {});
  const accepted = nodes.b.listen(9).accept();
  const s = await nodes.a.dial('bob:9');
  const peer = await accepted;
  peer.on('error', () => {});
  const events: string[] = [];
  for (const e of ['end', 'finish']) s.on(e, () => events.push(e));
  s.on('error', (err: Error) => events.push(`error ${err.name}`));
  s.on('close', (hadError: boolean) => events.push(`close ${hadError}`));
  return { a: nodes.a, s, peer, events };
}

describe('a stream aborted under its application (Node face)', () => {
  it('emits ConnectionClosedError when its node is destroyed without an error', async () => {
    const { a, s, events } = await open();
    const failed = once<Error>(s, 'error', 2_000);
    const closed = once(s, 'close', 2_000);
    a.destroy();
    const err = await failed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.cause).toBeInstanceOf(ConnectionClosedError);
    await closed;
    expect(events).toEqual(['error ConnectionClosedError', 'close true']);
  });

  it("keeps the error in `failure`, without crashing, when nobody listens for 'error'", async () => {
    const nodes = await nodePair(links.memory!, { heartbeatInterval: 0 }, { heartbeatInterval: 0 });
    cleanups.push(nodes.close);
    nodes.b.on('error', () => {});
    const accepted = nodes.b.listen(9).accept();
    const s = await nodes.a.dial('bob:9');
    (await accepted).on('error', () => {});
    const closed = once<boolean>(s, 'close', 2_000);
    nodes.a.destroy();
    expect(await closed).toBe(true);
    expect(s.failure).toBeInstanceOf(ConnectionClosedError);
  });

  it('emits StreamClosedError when its core is aborted without an error', async () => {
    const { s, events } = await open();
    const failed = once<Error>(s, 'error', 2_000);
    const closed = once(s, 'close', 2_000);
    s.core.destroy();
    const err = await failed;
    expect(err).toBeInstanceOf(StreamClosedError);
    expect(err.message).toBe('stream aborted');
    await closed;
    expect(events).toEqual(['error StreamClosedError', 'close true']);
  });

  it('stays free of errors when the application destroys it', async () => {
    const { s, events } = await open();
    const closed = once(s, 'close', 2_000);
    s.destroy();
    await closed;
    expect(events).toEqual(['close false']);
    expect(s.failure).toBeNull();
  });

  it('stays free of errors when it ends both ways', async () => {
    const { s, peer, events } = await open();
    const closed = once(s, 'close', 2_000);
    const got = [readAll(s), readAll(peer)];
    peer.end('bye');
    s.end('hi');
    expect((await got[0])?.toString()).toBe('bye');
    expect((await got[1])?.toString()).toBe('hi');
    await closed;
    expect(events).toEqual(['finish', 'end', 'close false']);
  });
});

describe('a stream aborted under its application (Web Streams face)', () => {
  it('fails its reader with ConnectionClosedError when its node is destroyed', async () => {
    const [ta, tb] = memoryPair();
    const a = new WebNode(ta, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    const b = new WebNode(tb, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
    b.on('error', () => {});
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    const accepted = b.listen(9).accept();
    const s: WebStream = await a.dial('bob:9');
    await accepted;
    const read = s.readable.getReader().read();
    a.destroy();
    await expect(read).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});
