import { afterEach, describe, expect, it } from 'vitest';
import {
  DialRefusedError,
  DialTimeoutError,
  type Node,
  type NodeOptions,
  ProtocolError,
} from '../../src/index.js';
import type { Logger } from '../../src/util/logger.js';
import { Caps, Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import type { Frame } from '../../src/wire/frame.js';
import { encodeOpenAck, encodeOpenError } from '../../src/wire/open.js';
import { type RawPeer, rawLink } from '../helpers/raw.js';
import { once } from '../helpers/streams.js';

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

/** Answers the next OpenStream the raw peer receives with `answer`; returns that open. */
async function answerNext(raw: RawPeer, answer: Uint8Array): Promise<Frame> {
  const open = await raw.next((f) => f.cmd === Cmd.OPEN);
  raw.send(Cmd.OPEN_ACK, open.srcIP, open.srcPort, SWITCHER_IP, open.dstPort, answer);
  return open;
}

/** Accepts the next OpenStream the raw peer receives; returns that open. */
const ackNext = (raw: RawPeer, window: number, caps: number): Promise<Frame> =>
  answerNext(raw, encodeOpenAck({ window, caps }));

/** A node (earlyData) on a raw link that learned early data from one answered dial of bob:9. */
async function taught(caps: number, options: NodeOptions = {}): Promise<{ node: Node; raw: RawPeer }> {
  const { node, raw } = rawLink({ earlyData: true, ...options });
  nodes.push(node);
  const first = node.dial('bob:9');
  await ackNext(raw, 0, caps);
  (await first).destroy();
  return { node, raw };
}

describe('early data edges', () => {
  it('fails an ended v3-close early stream with DialTimeoutError, not a clean end, when no ACK comes', async () => {
    // Without HALF_CLOSE, end() runs the v3 close, whose close-ACK timer is shorter than the dial's.
    const { node } = await taught(Caps.RESET | Caps.EARLY_DATA, { closeAckTimeout: 20, dialTimeout: 300 });
    const s = await node.dial('bob:9');
    let ended = false;
    s.on('end', () => {
      ended = true;
    });
    const failed = once<Error>(s, 'error', 5_000);
    s.resume();
    s.end('request');
    expect(await failed).toBeInstanceOf(DialTimeoutError);
    expect(ended).toBe(false);
  });

  it('counts an early stream once against maxStreams', async () => {
    const { node } = await taught(0x1f, { maxStreams: 4 });
    const streams = [];
    for (let i = 0; i < 4; i++) streams.push(await node.dial('bob:9'));
    expect(node.streamCount).toBe(4);
    for (const s of streams) s.destroy();
  });
  it('node.close() flushes what an early stream wrote and lets it finish', async () => {
    const { node, raw } = await taught(0x1f);
    const s = await node.dial('bob:9');
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    s.write('early request');
    const closing = node.close();
    const open = await ackNext(raw, 0, 0x1f);
    const data = await raw.next((f) => f.cmd === Cmd.DATA && f.payload.length > 0, 2_000);
    expect(new TextDecoder().decode(data.payload)).toBe('early request');
    const close = await raw.next((f) => f.cmd === Cmd.CLOSE, 2_000);
    raw.send(Cmd.CLOSE_ACK, close.srcIP, close.srcPort, SWITCHER_IP, open.dstPort);
    await closing;
    expect(errors).toEqual([]);
  });
  it('node.close() still reports a refusal of an early stream as its error', async () => {
    const { node, raw } = await taught(0x1f);
    const s = await node.dial('bob:10');
    const failed = once<Error>(s, 'error', 5_000);
    s.write('early request');
    const closing = node.close();
    await answerNext(raw, encodeOpenError('listener not found'));
    expect(await failed).toBeInstanceOf(DialRefusedError);
    await closing;
  });

  it('gives the dial up when its early stream is destroyed before the ACK, and closes the late ACK', async () => {
    const { node, raw } = await taught(0x1f);
    const s = await node.dial('bob:9');
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    s.destroy();
    await raw.next((f) => f.cmd === Cmd.RESET && f.srcPort === open.srcPort);
    // Not pending any more: the dial limit is not held by a stream that is gone.
    expect((node as unknown as { dials: { size: number } }).dials.size).toBe(0);
    raw.send(
      Cmd.OPEN_ACK,
      open.srcIP,
      open.srcPort,
      SWITCHER_IP,
      9,
      encodeOpenAck({ window: 0, caps: 0x1f }),
    );
    await raw.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === open.srcPort);
    expect(node.stats.streamsOpened).toBe(1); // the first dial's
  });

  it('closes, not resets, the acceptor’s stream when a disagreeing ACK did not take RESET', async () => {
    const { node, raw } = await taught(0x1f);
    const s = await node.dial('bob:9');
    const failed = once<Error>(s, 'error');
    const open = await ackNext(raw, 0, 0x1f & ~Caps.RESET);
    expect(await failed).toBeInstanceOf(ProtocolError);
    await raw.next((f) => f.cmd === Cmd.CLOSE && f.srcPort === open.srcPort);
    expect(raw.frames.some((f) => f.cmd === Cmd.RESET && f.srcPort === open.srcPort)).toBe(false);
  });

  it('counts an early stream as opened once its ACK accepts it, and a refused one not at all', async () => {
    const { node, raw } = await taught(0x1f);
    expect(node.stats.streamsOpened).toBe(1);
    const refused = await node.dial('bob:10');
    refused.on('error', () => {});
    expect(node.stats.streamsOpened).toBe(1);
    await answerNext(raw, encodeOpenError('listener not found'));
    await once(refused, 'close');
    expect(node.stats.streamsOpened).toBe(1);
    const s = await node.dial('bob:9');
    expect(node.stats.streamsOpened).toBe(1);
    await ackNext(raw, 0, 0x1f);
    await expect.poll(() => node.stats.streamsOpened).toBe(2);
    s.destroy();
  });

  it('keeps a refusal nobody listens for as the stream’s failure, and logs it', async () => {
    const logged: { obj: object; msg?: string }[] = [];
    const log = (obj: object, msg?: string): void => {
      logged.push({ obj, msg });
    };
    const logger: Logger = { debug: () => {}, info: log, warn: log, error: log };
    const { node, raw } = await taught(0x1f, { logger });
    const s = await node.dial('bob:10');
    s.write('early request');
    const closed = once(s, 'close');
    await answerNext(raw, encodeOpenError('listener not found'));
    await closed;
    // No 'error' listener: no crash, and the refusal is on the stream and in the node's log.
    expect(s.failure).toBeInstanceOf(DialRefusedError);
    expect(s.failure?.message).toContain('listener not found');
    const line = logged.find((l) => l.msg?.includes('early-data dial failed'));
    expect(line?.obj).toMatchObject({ dial: 'bob:10', code: 'FLEX_ERR_DIAL_REFUSED' });
    expect(JSON.stringify(line?.obj)).toContain('listener not found');
  });
});
