import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, Node, ProtocolError } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/types.js';
import { Cmd, HEADER_SIZE } from '../../../src/wire/constants.js';
import { encodeFrame, makeFrame } from '../../../src/wire/frame.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { RawPeer } from '../../helpers/raw.js';

/**
 * A node logs in the middle of handling its peer's frames and as its connection ends. A logger
 * that throws there (pino to a closed pipe, EPIPE) was taken for a bug of flexmux's inside the
 * dispatch, which closes the connection, and at the end it skipped the node's 'close', which a
 * session waits for to reconnect.
 */

const nodes: Node[] = [];
afterEach(() => {
  for (const n of nodes.splice(0)) n.destroy();
});

function throwing(...levels: ('debug' | 'info' | 'warn' | 'error')[]) {
  const log = captureLogger();
  const logger = { ...log };
  for (const level of levels) {
    logger[level] = () => {
      throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    };
  }
  return logger;
}

function link(logger: ReturnType<typeof throwing>): { node: Node; b: Transport; raw: RawPeer } {
  const [a, b] = memoryPair();
  const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0, logger });
  nodes.push(node);
  return { node, b, raw: new RawPeer(b) };
}

describe('a logger that throws inside a node', () => {
  it('on a frame it drops: the frame is dropped, and the connection stays', async () => {
    const { node, raw } = link(throwing('debug', 'error'));
    // A command the node does not know: dropped, with a debug line.
    raw.send(0x7e, 1, 0, 2, 0);
    raw.send(Cmd.PING, 0xffff, 0, 2, 9);
    await raw.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === 9);
    expect(node.closed).toBe(false);
    expect(node.stats.dropped).toBe(1);
    expect(node.stats.internalErrors).toBe(0);
  });

  it("as a peer's connection ends inside a frame: the node closes with the peer's ProtocolError", async () => {
    const { node, b } = link(throwing('warn', 'info', 'error'));
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    b.send([encodeFrame(makeFrame(Cmd.PING, 0xffff, 0, 2, 9)).subarray(0, HEADER_SIZE - 2)]);
    b.close();
    expect(await closed).toBeInstanceOf(ProtocolError);
    expect(node.closed).toBe(true);
  });

  it("as a peer's connection ends: the node closes, and its dials fail", async () => {
    const { node, b } = link(throwing('info', 'error'));
    const dial = node.dial('bob:80');
    const closed = new Promise<Error | undefined>((r) => node.once('close', r));
    b.destroy(new Error('read ECONNRESET'));
    expect(await closed).toBeInstanceOf(Error);
    await expect(dial).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});
