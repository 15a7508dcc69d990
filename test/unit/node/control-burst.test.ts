import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { RawPeer } from '../../helpers/raw.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const pings = (n: number) => Array.from({ length: n }, (_, i) => makeFrame(Cmd.PING, 1, 0, 2, i));

/**
 * maxControlQueue is meant to catch a peer that does not read. The replies of one read wait for
 * the writer's turn, though, so they are no sign of that: counted, a peer batching more requests
 * in one chunk than the bound (a Go node's pings, opens, closes) had a node that reads everything
 * destroy its connection.
 */
describe('node: a burst of control frames before the writer runs', () => {
  function link(): { node: Node; raw: RawPeer; errors: Error[]; pause: () => void } {
    const [a, b] = memoryPair();
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, maxControlQueue: 16 });
    cleanups.push(() => node.destroy());
    const errors: Error[] = [];
    node.on('error', (err: Error) => errors.push(err));
    return { node, raw: new RawPeer(b), errors, pause: () => b.pauseReading() };
  }

  it('answers more requests of one chunk than maxControlQueue to a peer that reads', async () => {
    const { node, raw, errors } = link();
    raw.sendAll(pings(200));
    const answers = () => raw.frames.filter((f) => f.cmd === Cmd.PING_ACK);
    await expect.poll(() => node.closed || answers().length === 200).toBe(true);
    expect(node.closed).toBe(false);
    expect(answers().map((f) => f.dstPort)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(errors).toEqual([]);
  });

  it('sends more opens of one tick than maxControlQueue: a burst of dials from the application', async () => {
    // A proxy that takes a burst of connections dials once for each, in one tick.
    const { node, raw, errors } = link();
    const dials = Array.from({ length: 40 }, () => node.dial('2:80').catch((err: Error) => err));
    const opens = () => raw.frames.filter((f) => f.cmd === Cmd.OPEN);
    await expect.poll(() => node.closed || opens().length === 40).toBe(true);
    expect(node.closed).toBe(false);
    expect(errors).toEqual([]);
    node.destroy();
    await Promise.all(dials);
  });

  it('still gives up on a peer that does not read, once its transport is full too', async () => {
    const { node, raw, errors, pause } = link();
    pause();
    const closed = new Promise((r) => node.once('close', r));
    // 11 bytes per answer: 40,000 of them pass the transport's 256 KiB and then the queue's 16.
    raw.sendAll(pings(40_000));
    await closed;
    expect(errors.map((e) => e.message)).toEqual(['more than 16 control frames queued: peer is not reading']);
  });
});
