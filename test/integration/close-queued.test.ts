import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { RawPeer, rawStream } from '../helpers/raw.js';

/**
 * The close-ACK timeout (PROTOCOL.md 5.2) is how long a close waits for the peer's answer. While
 * this end's own connection is backed up, the CloseStream waits in its queue behind the stream's
 * data: the peer has not had it, so cannot have answered. It used to run from the moment the close
 * was queued, so a stream on a backed-up connection reported a clean close with its data and its
 * close still in this end's queue, and when the connection then failed, the data was lost without
 * a word to the stream that wrote it.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * A stream (Go-like, plain v3, unless `caps` says) accepted by a node whose connection backs up after 16 KiB: the node
 * hands the transport 16 KiB per write, and the transport takes 16 KiB before it asks to wait.
 */
async function plainStream(caps?: number) {
  const [a, b] = memoryPair({ highWaterMark: 16 * 1024 });
  const node = new Node(a, {
    domain: 'alice',
    ip: 1,
    closeAckTimeout: 30,
    heartbeatInterval: 0,
    maxBatchBytes: 16 * 1024,
  });
  node.on('error', () => {});
  cleanups.push(() => node.destroy());
  const raw = new RawPeer(b);
  const { accepted } = await rawStream(node, raw, 1024 * 1024, caps);
  const errors: Error[] = [];
  let isClosed = false;
  accepted.on('error', (e) => errors.push(e));
  accepted.on('close', () => {
    isClosed = true;
  });
  accepted.resume();
  return { node, a, b, raw, accepted, errors, closed: () => isClosed };
}

describe('a v3 close queued behind data on a backed-up connection', () => {
  it('waits for its ACK from when it leaves, and fails if the connection dies first', async () => {
    const { node, b, accepted, errors, closed } = await plainStream();
    // The peer stops reading: the node's connection backs up with the stream's data and its close.
    b.pauseReading();
    accepted.end(Buffer.alloc(128 * 1024, 1));
    await expect.poll(() => accepted.core.writeBuffered > 0 && node.scheduler.isBlocked).toBe(true);
    // Many close-ACK timeouts later, the close is still in the node's own queue.
    await new Promise((r) => setTimeout(r, 200));
    expect(accepted.core.writeBuffered).toBeGreaterThan(0);
    expect(closed()).toBe(false);
    // The connection dies: what the stream wrote never left, and the stream says so.
    b.destroy();
    await expect.poll(closed).toBe(true);
    expect(errors.map((e) => e.name)).toEqual(['ConnectionClosedError']);
  });

  it('still times out once the close has left', async () => {
    const { node, b, raw, accepted, errors, closed } = await plainStream();
    b.pauseReading();
    accepted.end(Buffer.alloc(128 * 1024, 1));
    await expect.poll(() => node.scheduler.isBlocked).toBe(true);
    b.resumeReading();
    // The peer reads everything, close included, and never answers it.
    await raw.next((f) => f.cmd === Cmd.CLOSE);
    await expect.poll(closed).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('a stream aborted while its data waits in the queue of a backed-up connection', () => {
  for (const caps of [Caps.RESET, undefined]) {
    const end = caps ? 'RESET' : 'v3 close';
    it(`drops that data: the ${end} is the last the peer hears of it`, async () => {
      const { node, a, b, raw, accepted } = await plainStream(caps);
      b.pauseReading();
      accepted.write(Buffer.alloc(128 * 1024, 1));
      await expect.poll(() => accepted.core.writeBuffered > 0 && node.scheduler.isBlocked).toBe(true);
      accepted.destroy();
      b.resumeReading();
      const last = caps ? Cmd.RESET : Cmd.CLOSE;
      await expect.poll(() => raw.frames.some((f) => f.cmd === last)).toBe(true);
      // Everything the node handed over has arrived.
      await expect.poll(() => !node.scheduler.isBlocked && a.bufferedAmount === 0).toBe(true);
      const mine = raw.frames.filter((f) => f.srcPort === 80);
      expect(mine.at(-1)?.cmd).toBe(last);
      const data = mine.filter((f) => f.cmd === Cmd.DATA).reduce((n, f) => n + f.size, 0);
      expect(data).toBeLessThan(128 * 1024);
    });
  }
});

/**
 * A dialled stream's local port names it on the wire; once the port is back in the pool, a new
 * dial may take it (in turn, once the sequential ports are used up), and its OpenStream, a
 * control frame, overtakes whatever the old stream still has queued: the acceptor would take
 * the old stream's data and close for the new stream's. A stream
 * that ends with frames still queued (its v3 close, or the close-ACK it owes, behind its data on a
 * backed-up connection) used to give its port back at once (after `retention`).
 */
describe('a dialled stream that ends with frames still queued', () => {
  for (const how of ['destroyed', 'closed by the peer']) {
    it(`keeps its port until they have left (${how})`, async () => {
      const [a, b] = memoryPair({ highWaterMark: 16 * 1024 });
      const node = new Node(a, {
        domain: 'alice',
        ip: 1,
        heartbeatInterval: 0,
        maxBatchBytes: 16 * 1024,
        retention: 0,
      });
      node.on('error', () => {});
      cleanups.push(() => node.destroy());
      const raw = new RawPeer(b);
      const inUse = (): number => (node as unknown as { dialPorts: { inUse: number } }).dialPorts.inUse;
      const dialing = node.dial('bob:80');
      const open = await raw.next((f) => f.cmd === Cmd.OPEN);
      raw.send(Cmd.OPEN_ACK, open.srcIP, open.srcPort, 2, 80); // Go-like: plain v3, 2 MiB
      const s = await dialing;
      s.on('error', () => {});
      expect(inUse()).toBe(1);
      b.pauseReading();
      s.write(Buffer.alloc(128 * 1024, 1));
      await expect.poll(() => s.core.writeBuffered > 0 && node.scheduler.isBlocked).toBe(true);
      if (how === 'destroyed') s.destroy();
      else raw.send(Cmd.CLOSE, 1, open.srcPort, 2, 80);
      await expect.poll(() => s.core.state).toBe('closed');
      expect(s.core.writeBuffered).toBeGreaterThan(0);
      expect(inUse()).toBe(1);
      b.resumeReading();
      await raw.next((f) => f.cmd === (how === 'destroyed' ? Cmd.CLOSE : Cmd.CLOSE_ACK));
      await expect.poll(inUse).toBe(0);
    });
  }
});
