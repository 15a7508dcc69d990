import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';

/**
 * node.close() (a session's close() too) waits for its streams to close properly, at most
 * closeAckTimeout; a stream still sending then (its reader took nothing) fails with the
 * connection. Its error named the wrong culprit: "connection closed by peer", after the
 * program had closed the node itself.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

describe('a stream cut by its own node.close()', () => {
  it('fails with a ConnectionClosedError that names close(), not the peer', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', closeAckTimeout: 50, heartbeatInterval: 0 });
    const b = new Node(y, { domain: 'b', heartbeatInterval: 0 });
    nodes.push(a, b);
    const accepted = new Promise<FlexStream>((resolve) =>
      b.listen(1).on('stream', (s: FlexStream) => {
        s.pause(); // takes nothing: the writer stops after one window
        s.on('error', () => {});
        resolve(s);
      }),
    );
    const s = await a.dial('b:1');
    const failed = new Promise<Error>((resolve) => s.on('error', resolve));
    s.resume();
    s.end(Buffer.alloc(4 * 2 ** 20, 1)); // two windows
    await accepted;
    await a.close();
    const err = await failed;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    const cause = (err as Error).cause as Error;
    expect(cause).toBeInstanceOf(ConnectionClosedError);
    expect(cause.message).not.toMatch(/by peer/);
    expect(cause.message).toMatch(/close\(\)/);
  });

  it('still says "by peer" when the peer ended the connection', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', heartbeatInterval: 0 });
    const b = new Node(y, { domain: 'b', heartbeatInterval: 0 });
    nodes.push(a, b);
    const closed = new Promise<Error | undefined>((resolve) => a.on('close', resolve));
    await b.close();
    expect((await closed)?.message).toBe('connection closed by peer');
  });
});
