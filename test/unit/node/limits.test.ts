import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  DialRefusedError,
  type FlexStream,
  type Node,
  type NodeOptions,
} from '../../../src/index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { decodeOpenAck, encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { type RawPeer, rawLink as rawNodeLink } from '../../helpers/raw.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rawLink(options: NodeOptions = {}): { node: Node; raw: RawPeer } {
  const link = rawNodeLink({ heartbeatInterval: 0, ...options });
  cleanups.push(() => link.node.destroy());
  return link;
}

describe('node stream limit', () => {
  it('counts a pending dial against maxStreams when an open comes in', async () => {
    const { node, raw } = rawLink({ maxStreams: 1 });
    node.listen(80);
    const dialing = node.dial('2:9');
    const open = await raw.next((f) => f.cmd === Cmd.OPEN);
    // The dial holds the only slot: the peer's open is refused, not accepted on top of it.
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window: 0 }));
    const refusal = await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === 5000);
    expect(decodeOpenAck(refusal.payload)).toEqual({ ok: false, error: 'too many streams' });
    raw.send(Cmd.OPEN_ACK, 1, open.srcPort, 2, 9, encodeOpenAck({ window: 0 }));
    const s = await dialing;
    expect(node.streamCount).toBe(1);
    s.destroy();
  });

  it('refuses a self-dial that would need more streams than maxStreams', async () => {
    const { node } = rawLink({ maxStreams: 1 });
    node.listen(80);
    // Both ends of a self-dial are streams of this node: with one slot, the open is refused.
    const err = await node.dial('0:80').catch((e: Error) => e);
    expect(err).toBeInstanceOf(DialRefusedError);
    expect(err).toMatchObject({ reason: 'limit' });
    expect(node.streamCount).toBe(0);
  });

  it('still lets a self-dial take the last two slots', async () => {
    const { node } = rawLink({ maxStreams: 2 });
    const accepting = node.listen(80).accept();
    const s = await node.dial('0:80');
    const accepted = await accepting;
    expect(node.streamCount).toBe(2);
    s.destroy();
    accepted.destroy();
  });
});

describe('node receive budget', () => {
  // Regression: onOpen refused at `receiveBuffered > maxReceiveBuffer`, which never holds (no data
  // takes the total past the maximum), so with the budget full an open was accepted, and the
  // stream was reset at its first byte of data. It is refused at once, as manual.md says.
  it('refuses opens while maxReceiveBuffer is full, and takes them once the reader catches up', async () => {
    const { node, raw } = rawLink({ maxReceiveBuffer: 1024 });
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s) => {
      accepted.push(s);
      s.pause();
    });
    const openFrom = async (port: number) => {
      raw.send(Cmd.OPEN, 1, 80, 2, port, encodeOpen({ domain: 'raw', window: 4096 }));
      return decodeOpenAck((await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port)).payload);
    };
    expect((await openFrom(5000)).ok).toBe(true);
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new Uint8Array(1024));
    await vi.waitFor(() => expect(accepted[0]?.readableLength).toBe(1024));
    // Not one byte more fits: a new stream could take no data.
    expect(await openFrom(5001)).toEqual({ ok: false, error: 'too many streams' });
    expect(accepted[0]?.read()).toHaveLength(1024);
    expect((await openFrom(5002)).ok).toBe(true);
  });
});

describe('node ping argument', () => {
  it('refuses a domain too long for a frame instead of corrupting the connection', async () => {
    const { node, raw } = rawLink();
    const long = 'x'.repeat(0x10000 + 5);
    const err = await node.ping(long, { timeout: 1_000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    // Nothing went out: the connection still carries well-formed frames.
    const pinging = node.ping('bob');
    const ping = await raw.next((f) => f.cmd === Cmd.PING);
    expect(new TextDecoder().decode(ping.payload)).toBe('bob');
    expect(raw.frames).toEqual([]);
    raw.send(Cmd.PING_ACK, 1, ping.srcPort, 2, 0);
    expect(await pinging).toBeGreaterThanOrEqual(0);
    expect(node.closed).toBe(false);
  });
});
