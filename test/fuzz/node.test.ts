import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { Caps, Cmd } from '../../src/wire/constants.js';
import { encodeOpen } from '../../src/wire/open.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { heapUsed, MiB } from '../helpers/faulty-memory.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { encodeRaw, frameArb, type RawFrame } from './frames.js';
import { budget, runs } from './scale.js';

/**
 * A node fed random frame sequences (valid headers, aimed at its listeners, streams, dial ports
 * and pings) by a raw peer on a memory link. Properties: it never throws and never closes (an
 * exception inside the node would close it as an internal error), its tables stay within
 * their limits, it still answers a ping, and a stream opened before the barrage still works.
 */

const ME = 1;
const PEER = 2;
const LEGIT = 40_000;
const MAX_STREAMS = 256;
const WINDOW = 64 * 1024;

const aim = {
  dstIPs: [ME],
  dstPorts: [80, 81, 82, 83, 1000, 1001, 1002],
  srcIPs: [PEER],
  srcPorts: [1, 2, 3, 4, 5, 6, 7, 8],
  domains: ['node', 'NODE', '', 'other'],
};

function setup() {
  const [a, b] = memoryPair({ highWaterMark: 8 * MiB });
  const log = captureLogger();
  const node = new Node(a, {
    ip: ME,
    domain: 'node',
    heartbeatInterval: 0,
    window: WINDOW,
    maxStreams: MAX_STREAMS,
    backlog: 4,
    retention: 20,
    closeAckTimeout: 100,
    dialTimeout: 300,
    logger: log,
  });
  const closes: string[] = [];
  node.on('close', (e) => closes.push(String(e)));
  node.on('error', () => {});
  const held: FlexStream[] = [];
  const guard = (s: FlexStream): FlexStream => {
    s.on('error', () => {});
    return s;
  };
  // 80 echoes, 81 holds streams unread, 83 resets on the first data. (No backlog-only listener:
  // a reset stream waiting there crashes the process, see test/abuse/early-reset.test.ts.)
  node.listen(80).on('stream', (s: FlexStream) => {
    pipeline(guard(s), s).catch(() => {});
  });
  node.listen(81).on('stream', (s: FlexStream) => {
    held.push(guard(s));
    s.pause();
  });
  node.listen(83).on('stream', (s: FlexStream) => {
    guard(s).once('data', () => s.destroy(Object.assign(new Error('app says no'), { resetCode: 0x101 })));
  });
  const peer = new HostilePeer(b, 64);
  return { node, peer, log, closes, held, guard };
}

/** A legitimate stream from the peer to the echo on port 80, acknowledged. */
async function openLegit(peer: HostilePeer): Promise<void> {
  peer.frame(
    Cmd.OPEN,
    ME,
    80,
    PEER,
    LEGIT,
    encodeOpen({ domain: 'peer', window: WINDOW, caps: Caps.RESET | Caps.HALF_CLOSE }),
  );
  await peer.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === LEGIT);
}

/** The legit stream still echoes. */
async function legitEchoes(peer: HostilePeer, tag: number): Promise<void> {
  const msg = new TextEncoder().encode(`hello ${tag}`);
  peer.frame(Cmd.DATA, ME, 80, PEER, LEGIT, msg);
  const back = await peer.next((f) => f.cmd === Cmd.DATA && f.dstPort === LEGIT, 5_000);
  expect(new TextDecoder().decode(back.payload)).toBe(`hello ${tag}`);
  peer.frame(Cmd.DATA_ACK, ME, 80, PEER, LEGIT, undefined, msg.length);
}

async function answersPing(peer: HostilePeer, id: number): Promise<void> {
  peer.frame(Cmd.PING, ME, 0, PEER, id, new TextEncoder().encode('node'));
  const ack = await peer.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === id, 5_000);
  expect(ack.payload.length).toBe(0);
}

/** The id of the test's own ping, whose answer must be told from those to random pings. */
const PING_ID = 0xfff0;

/** Keeps random frames off the legit stream's address and off the test's own ping id. */
function offLegit(f: RawFrame): RawFrame {
  if (f.srcIP === PEER && f.srcPort === LEGIT) return { ...f, srcPort: LEGIT + 1 };
  // A random ping with that id would be answered ("domain not match") to the same port.
  if (f.cmd === Cmd.PING && f.srcPort === PING_ID) return { ...f, srcPort: PING_ID + 1 };
  return f;
}

describe('a node fed random frames', () => {
  it(
    'never throws or closes, stays within its limits, answers pings, keeps its good stream',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(frameArb(aim).map(offLegit), { minLength: 1, maxLength: 80 }),
          fc.integer({ min: 0, max: 3 }),
          async (frames, dials) => {
            const { node, peer, log, closes, guard } = setup();
            try {
              await openLegit(peer);
              // Dials in flight, so random OpenStream ACKs to ports 1000.. find a pending dial.
              for (let i = 0; i < dials; i++) node.dial('other:9').then(guard, () => {});
              for (const f of frames) peer.bytes(encodeRaw(f));
              await answersPing(peer, PING_ID);
              await legitEchoes(peer, frames.length);
              expect(
                closes,
                JSON.stringify(log.atLeast('warn').filter((e) => e.msg.endsWith(', closing'))),
              ).toEqual([]);
              expect(node.streamCount).toBeLessThanOrEqual(MAX_STREAMS);
              const buffered = node.streamList().reduce((n, s) => n + s.receiveBuffered, 0);
              expect(buffered).toBeLessThanOrEqual(node.streamCount * WINDOW);
              expect(node.scheduler.controlLength).toBeLessThan(1_000);
            } finally {
              node.destroy();
              peer.t.destroy();
            }
          },
        ),
        { numRuns: runs(150) },
      );
    },
    budget(6_000),
  );

  it(
    'a long barrage on one node: memory back near its baseline once the attacker’s streams are gone',
    async () => {
      const { node, peer, closes, held } = setup();
      try {
        await openLegit(peer);
        const sample = fc.sample(
          fc.array(
            frameArb({ ...aim, srcPorts: Array.from({ length: 64 }, (_, i) => i + 1) }).map(offLegit),
            { minLength: 500, maxLength: 500 },
          ),
          { numRuns: runs(40), seed: 42 },
        );
        const before = await heapUsed();
        let i = 0;
        for (const batch of sample) {
          for (const f of batch) {
            if (!peer.bytes(encodeRaw(f))) await peer.drained();
          }
          await answersPing(peer, 0xf000 + (i++ % 0x0fff));
        }
        await legitEchoes(peer, 1);
        expect(closes).toEqual([]);
        // Every stream but the legit one goes: the held ones by the app, the rest by their peer.
        for (const s of held) s.destroy();
        for (const s of node.streamList()) {
          if (s.remote.port !== LEGIT)
            peer.frame(Cmd.RESET, ME, s.local.port, s.remote.ip, s.remote.port, new Uint8Array(4));
        }
        await expect.poll(() => node.streamCount, { timeout: 5_000 }).toBeLessThanOrEqual(1);
        held.length = 0;
        peer.recent.length = 0;
        const growth = (await heapUsed()) - before;
        expect(growth).toBeLessThan(16 * MiB);
        await legitEchoes(peer, 2);
      } finally {
        node.destroy();
        peer.t.destroy();
      }
    },
    budget(8_000),
  );
});
