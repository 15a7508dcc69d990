import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { RawPeer, rawStream } from '../helpers/raw.js';

/**
 * A writer that transfers (detaches) a large buffer it wrote before the bytes have left. Writes of
 * 16 KiB or more are sent from the writer's own buffer (docs/manual.md 2, "Reusing a written
 * buffer"), so the frames queued from it shrink to nothing. The stream that wrote it fails; the
 * connection, which a frame shorter than its header would derail for every stream, goes on.
 *
 * Twice: by default, and with reuseWrittenBuffers and no slabs (writeBuffer 0, or slabs full),
 * where such a write's callback waits until its bytes have left. There the backlog is written in
 * writes short enough to be copied (COPY_WRITES_BELOW), whose callbacks do not wait, so that the
 * stream takes the next write while they do.
 */

const KiB = 1024;
const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** Detaches `buf`'s ArrayBuffer, as a transfer to a worker or `postMessage(buf, [buf])` does. */
function detach(buf: Uint8Array): void {
  structuredClone(buf.buffer, { transfer: [buf.buffer] });
  expect(buf.length).toBe(0);
}

interface Mode {
  name: string;
  options: Partial<NodeOptions>;
  /** Writes 300 KiB of byte 1 that the stream takes at once. */
  backlog(s: FlexStream): void;
  /** What the Duplex still holds of a large write the stream took (its callback not yet due). */
  held(late: Uint8Array): number;
  /** A write the stream takes at once, ahead of the detached one. */
  before: number;
}

const modes: Mode[] = [
  {
    name: 'by default',
    options: {},
    backlog: (s) => s.write(new Uint8Array(300 * KiB).fill(1)),
    held: () => 0,
    before: 32 * KiB,
  },
  {
    name: 'with reuseWrittenBuffers',
    options: { reuseWrittenBuffers: true, writeBuffer: 0 },
    backlog: (s) => {
      for (let i = 0; i < 20; i++) s.write(new Uint8Array(15 * KiB).fill(1));
    },
    held: (late) => late.length,
    before: 15 * KiB,
  },
];

async function setup(mode: Mode, window: number, caps = Caps.HALF_CLOSE | Caps.RESET) {
  const [a, b] = memoryPair();
  const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, ...mode.options });
  nodes.push(node);
  const raw = new RawPeer(b);
  const { accepted } = await rawStream(node, raw, window, caps);
  // The connection's queue is backed up, and the stream has taken the whole backlog: the callback
  // of its last write, which waited, has come (after those of the writes before it, on their tick),
  // so it takes the next write at once.
  const backedUp = () => a.bufferedAmount > 256 * KiB && accepted.writableLength === 0;
  const failed = once(accepted, 'error') as Promise<[Error]>;
  return { node, raw, link: b, accepted, failed, backedUp };
}

/** The connection still works: a ping goes through and is answered, frames decode as frames. */
async function stillUp(raw: RawPeer): Promise<void> {
  raw.send(Cmd.PING, 1, 0, 2, 77, new TextEncoder().encode('alice'));
  const ack = await raw.next((f) => f.cmd === Cmd.PING_ACK, 2_000);
  expect(ack.dstPort).toBe(77);
}

/** Data bytes the raw peer got on the stream. */
const received = (raw: RawPeer) =>
  raw.frames.filter((f) => f.cmd === Cmd.DATA && f.dstPort === 5000).reduce((n, f) => n + f.size, 0);

describe.each(modes)('a written buffer detached before it was sent ($name)', (mode) => {
  it('fails its stream, not the connection, when its frame waits in the connection queue', async () => {
    const { raw, link, accepted, failed, backedUp } = await setup(mode, 4096 * KiB);
    link.pauseReading(); // the peer reads nothing: the node's queue backs up
    mode.backlog(accepted);
    await expect.poll(backedUp).toBe(true);
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    // Taken by the stream (under its high-water mark), framed, and queued behind the backlog (with
    // reuseWrittenBuffers its callback waits for it to leave).
    expect(accepted.writableLength).toBe(mode.held(late));
    detach(late);
    link.resumeReading();
    const [err] = await failed;
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/detached/);
    const reset = await raw.next((f) => f.cmd === Cmd.RESET && f.dstPort === 5000);
    expect(new TextDecoder().decode(reset.payload.subarray(4))).toMatch(/detached/);
    await stillUp(raw);
    // Frames sent before the detached buffer arrived whole; none from it. (A frame that joined the
    // end of the first write to the start of the detached one went with it: the stream failed.)
    expect(received(raw)).toBeGreaterThan(0);
    expect(received(raw)).toBeLessThanOrEqual(300 * KiB);
    expect(raw.frames.filter((f) => f.cmd === Cmd.DATA).every((f) => f.payload.every((x) => x === 1))).toBe(
      true,
    );
  });

  it('fails its stream, not the connection, when it waits for credit', async () => {
    const { raw, accepted, failed } = await setup(mode, 64 * KiB);
    accepted.write(new Uint8Array(64 * KiB).fill(1)); // the whole window
    await expect.poll(() => received(raw)).toBe(64 * KiB);
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    detach(late);
    raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 0xffff);
    raw.send(Cmd.DATA_ACK, 1, 80, 2, 5000, undefined, 1);
    const [err] = await failed;
    expect(err).toBeInstanceOf(TypeError);
    await raw.next((f) => f.cmd === Cmd.RESET && f.dstPort === 5000);
    await stillUp(raw);
    expect(received(raw)).toBe(64 * KiB);
  });

  it('leaves the other streams of the connection alone', async () => {
    const { node, raw, link, accepted, failed, backedUp } = await setup(mode, 4096 * KiB);
    const other = node.listen(81).accept();
    raw.send(
      Cmd.OPEN,
      1,
      81,
      2,
      5001,
      new Uint8Array([...new TextEncoder().encode('raw'), 0, 0, 0x10, 0, 0, 3]),
    );
    const second: FlexStream = await other;
    link.pauseReading();
    mode.backlog(accepted);
    await expect.poll(backedUp).toBe(true);
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    second.write(new Uint8Array(32 * KiB).fill(3));
    expect(accepted.writableLength).toBe(mode.held(late));
    detach(late);
    link.resumeReading();
    await failed;
    await expect
      .poll(() =>
        raw.frames.filter((f) => f.cmd === Cmd.DATA && f.dstPort === 5001).reduce((n, f) => n + f.size, 0),
      )
      .toBe(32 * KiB);
    expect(second.destroyed).toBe(false);
  });

  it('fails a stream released on FIN whose detached frame followed frames sent in the same flush', async () => {
    // Both FINs exchanged with FIN_RELEASE: the stream is released once its queue (and its FIN)
    // has left. The frames taken before the detached one made the queue look drained: it was
    // released as cleanly ended, its last data and its FIN never sent.
    const caps = Caps.HALF_CLOSE | Caps.RESET | Caps.FIN_RELEASE;
    const { raw, link, accepted, backedUp } = await setup(mode, 4096 * KiB, caps);
    link.pauseReading();
    mode.backlog(accepted);
    await expect.poll(backedUp).toBe(true);
    accepted.write(new Uint8Array(mode.before).fill(1)); // sent from the queue before the detached one
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    accepted.end();
    raw.send(Cmd.FIN, 1, 80, 2, 5000);
    accepted.resume();
    await once(accepted, 'end');
    const closed = new Promise<Error | null>((resolve) => {
      accepted.on('error', (e) => resolve(e));
      accepted.on('close', () => resolve(null));
    });
    detach(late);
    link.resumeReading();
    const err = await closed;
    expect(err).toBeInstanceOf(TypeError);
    await raw.next((f) => f.cmd === Cmd.RESET && f.dstPort === 5000);
    await stillUp(raw);
  });

  it('still sends the close of a plain v3 stream whose close was queued behind it', async () => {
    // No reset negotiated (a Go peer): end() queued the CloseStream behind the data, and the frames
    // dropped with the detached one took it along. The peer must still hear the stream end.
    const { raw, link, accepted, failed, backedUp } = await setup(mode, 4096 * KiB, 0);
    link.pauseReading();
    mode.backlog(accepted);
    await expect.poll(backedUp).toBe(true);
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    accepted.end();
    detach(late);
    link.resumeReading();
    const [err] = await failed;
    expect(err).toBeInstanceOf(TypeError);
    await raw.next((f) => f.cmd === Cmd.CLOSE && f.dstPort === 5000, 2_000);
    await stillUp(raw);
  });

  it("still answers the peer's close that came while a detached buffer was queued", async () => {
    // The peer's CloseStream closed the stream with data queued: its close-ACK went behind that
    // data, and the frames dropped with the detached one took it along. The peer, which waits for
    // that ACK, must still get it.
    const { raw, link, accepted, backedUp } = await setup(mode, 4096 * KiB, 0);
    accepted.on('error', () => {});
    link.pauseReading();
    mode.backlog(accepted);
    await expect.poll(backedUp).toBe(true);
    const late = new Uint8Array(64 * KiB).fill(2);
    accepted.write(late);
    raw.send(Cmd.CLOSE, 1, 80, 2, 5000);
    accepted.resume();
    await once(accepted, 'close');
    detach(late);
    link.resumeReading();
    await raw.next((f) => f.cmd === Cmd.CLOSE_ACK && f.dstPort === 5000, 2_000);
    await stillUp(raw);
  });
});
