import { afterEach, describe, expect, it } from 'vitest';
import { Node as WebNode, type WebStream } from '../../src/browser.js';
import { type FlexStream, StreamClosedError } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Cmd } from '../../src/wire/constants.js';
import { encodeOpen } from '../../src/wire/open.js';
import { RawPeer, rawLink } from '../helpers/raw.js';

/**
 * Bytes a stream received and its reader never took count against the connection's
 * maxReceiveBuffer until they leave. A stream destroyed by its application (no error) drops them:
 * they must stop counting then, or every such stream shrinks the budget for good.
 */

const nodes: { destroy(): void }[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** The raw peer opens a stream from `port` to port 80 and sends it 60,000 bytes (of a 100,000 budget). */
function fill(raw: RawPeer, port: number): void {
  raw.send(Cmd.OPEN, 1, 80, 2, port, encodeOpen({ domain: 'raw', window: 65_536 }));
  raw.send(Cmd.DATA, 1, 80, 2, port, new Uint8Array(60_000));
}

/** The second stream's 60,000 bytes fit the budget (only if the first stream's left it). */
async function expectFits(accepted: readonly { core: { receiveBuffered: number }; destroyed: boolean }[]) {
  await expect
    .poll(
      () =>
        accepted[1] !== undefined && (accepted[1].core.receiveBuffered === 60_000 || accepted[1].destroyed),
    )
    .toBe(true);
  expect(accepted[1].destroyed).toBe(false);
}

/**
 * A Web stream accepted and never read, holding 5,000 unread bytes, that the raw peer then closed
 * (v3 close, answered): what the tests below drop in different ways.
 */
async function closedUnreadWebStream(): Promise<{ raw: RawPeer; accepted: WebStream[] }> {
  const [a, b] = memoryPair();
  const node = new WebNode(a, { domain: 'alice', ip: 1, maxReceiveBuffer: 100_000 });
  nodes.push(node);
  const raw = new RawPeer(b);
  const accepted: WebStream[] = [];
  node.listen(80).on('stream', (s: WebStream) => {
    accepted.push(s); // never read
  });
  fill(raw, 5000);
  raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
  await raw.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === 5000);
  expect(accepted[0].core.state).toBe('closed');
  return { raw, accepted };
}

describe('maxReceiveBuffer and streams destroyed with unread data', () => {
  it('a destroyed stream gives its unread bytes back to the connection budget', async () => {
    const { node, raw } = rawLink({ maxReceiveBuffer: 100_000 });
    nodes.push(node);
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s: FlexStream) => {
      s.on('error', () => {});
      accepted.push(s); // never read
    });
    fill(raw, 5000);
    await expect.poll(() => accepted[0]?.core.receiveBuffered).toBe(60_000);
    accepted[0].destroy();
    // Another 60,000 bytes fit the 100,000-byte budget only if the first 60,000 left it.
    fill(raw, 5001);
    await expectFits(accepted);
    expect(accepted[1].core.state).toBe('open');
  });

  // The same after a graceful end: the peer sent its data and closed (v3), the stream is closed,
  // and its reader had not taken the data when the application dropped the stream.
  it('a stream destroyed after the peer closed it gives its unread bytes back', async () => {
    const { node, raw } = rawLink({ maxReceiveBuffer: 100_000 });
    nodes.push(node);
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s: FlexStream) => {
      s.on('error', () => {});
      accepted.push(s); // never read
    });
    fill(raw, 5000);
    raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
    await raw.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === 5000);
    expect(accepted[0].core.state).toBe('closed');
    accepted[0].destroy();
    fill(raw, 5001);
    await expectFits(accepted);
  });

  it('a Web stream cancelled after the peer closed it gives its unread bytes back', async () => {
    const { raw, accepted } = await closedUnreadWebStream();
    await accepted[0].readable.cancel();
    fill(raw, 5001);
    await expectFits(accepted);
  });

  // destroy() "aborts both directions" (docs/browser.md): after the peer's close it still drops what
  // the reader has not taken, as cancel() and the Node face's destroy() do.
  it('a Web stream destroyed after the peer closed it gives its unread bytes back, and reads none', async () => {
    const { raw, accepted } = await closedUnreadWebStream();
    accepted[0].destroy();
    expect(accepted[0].destroyed).toBe(true);
    await expect(accepted[0].readable.getReader().read()).rejects.toBeInstanceOf(StreamClosedError);
    fill(raw, 5001);
    await expectFits(accepted);
  });

  // A request a plain v3 peer sent and closed (Go: Write, then Close) while its stream waited in
  // the backlog: closing the listener drops the stream, and its bytes must stop counting too.
  it('a backlog stream the peer had closed gives its unread bytes back when the listener closes', async () => {
    const { node, raw } = rawLink({ maxReceiveBuffer: 100_000 });
    nodes.push(node);
    const l = node.listen(80); // nobody accepts
    fill(raw, 5000);
    raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
    await raw.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === 5000);
    expect(l.pending).toBe(1);
    l.close();
    const later: FlexStream[] = [];
    node.listen(80).on('stream', (s: FlexStream) => {
      s.on('error', () => {});
      later.push(s); // never read
    });
    fill(raw, 5001);
    await expect.poll(() => later.length).toBe(1);
    const s = later[0];
    await expect.poll(() => s.core.receiveBuffered === 60_000 || s.destroyed).toBe(true);
    expect(s.destroyed).toBe(false);
  });
});
