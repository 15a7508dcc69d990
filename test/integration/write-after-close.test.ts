import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, StreamClosedError } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { once } from '../helpers/streams.js';

/**
 * A plain v3 peer's close ends both directions (PROTOCOL.md 14.4). A write after it fails with
 * StreamClosedError (docs/errors.md: stop writing), as a net.Socket's write after its peer ended
 * fails with EPIPE, not with Node's ERR_STREAM_WRITE_AFTER_END, which would blame an end() the
 * program never called.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** A plain v3 stream whose peer sent `last` and closed it. */
async function closedByPeer(last: string): Promise<FlexStream> {
  const [x, y] = memoryPair();
  const a = new Node(x, { domain: 'alice', ip: 1, heartbeatInterval: 0, caps: 0 });
  const b = new Node(y, { domain: 'bob', ip: 2, heartbeatInterval: 0 });
  nodes.push(a, b);
  const accepted = b.listen(9).accept();
  const s = await a.dial('bob:9');
  const peer = await accepted;
  peer.end(last);
  await expect.poll(() => s.core.state).toBe('closed');
  return s;
}

function writeError(s: FlexStream): Promise<Error | null | undefined> {
  return new Promise((resolve) => s.write('more', resolve));
}

/** What end(data)'s callback gets (Node passes it the error; @types/node says it gets none). */
function endError(s: FlexStream): Promise<Error | null | undefined> {
  return new Promise((resolve) => s.end('reply', resolve as () => void));
}

describe('write after a plain v3 peer closed the stream', () => {
  it('fails with StreamClosedError while the reader has not taken everything', async () => {
    const s = await closedByPeer('last words');
    const failed = once<Error>(s, 'error');
    const err = await writeError(s);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect(err).toMatchObject({ code: 'FLEX_ERR_STREAM_CLOSED' });
    expect(await failed).toBe(err);
  });

  it('fails with StreamClosedError once the reader has taken the end', async () => {
    const s = await closedByPeer('last words');
    s.resume();
    await once(s, 'close');
    const err = await writeError(s);
    expect(err).toBeInstanceOf(StreamClosedError);
  });

  // end(data) is the last write: the same failure, not Node's "write after end" for the end()
  // the face made on the peer's close.
  it('end(data) fails with StreamClosedError too, before and after the reader took the end', async () => {
    const s = await closedByPeer('last words');
    const failed = once<Error>(s, 'error');
    const err = await endError(s);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect(await failed).toBe(err);
    const t = await closedByPeer('last words');
    t.resume();
    await once(t, 'close');
    const late = await endError(t);
    expect(late).toBeInstanceOf(StreamClosedError);
  });
});
