import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import type { Transport } from '../../src/transport/types.js';
import { Cmd } from '../../src/wire/constants.js';
import { FrameDecoder } from '../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../src/wire/frame.js';
import { decodeOpenAck, encodeOpen, type OpenAck } from '../../src/wire/open.js';

/** A test peer that speaks raw frames over one end of a transport pair. */
export class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private readonly t: Transport;

  constructor(t: Transport) {
    this.t = t;
    const dec = new FrameDecoder((f) => {
      this.frames.push(f);
      for (const w of this.waiters.slice()) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(f);
        }
      }
    });
    t.attach({
      data: (c) => dec.push(c),
      drain: () => {},
      close: () => {
        this.closed = true;
      },
    });
  }

  send(
    cmd: number,
    dstIP: number,
    dstPort: number,
    srcIP: number,
    srcPort: number,
    payload?: Uint8Array,
    ack = 0,
  ): void {
    this.t.send([encodeFrame(makeFrame(cmd, dstIP, dstPort, srcIP, srcPort, payload, ack))]);
  }

  /** Sends frames in one transport write (one TCP segment on loopback, when small enough). */
  sendAll(frames: readonly Frame[]): void {
    this.t.send(frames.map(encodeFrame));
  }

  /** Credit the node has returned so far: the sizes of the data-ACKs received and still held. */
  get creditReturned(): number {
    let sum = 0;
    for (const f of this.frames) if (f.cmd === Cmd.DATA_ACK) sum += f.size;
    return sum;
  }

  /** The first frame (already received or future) matching `pred`. */
  next(pred: (f: Frame) => boolean, ms = 5_000): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise<Frame>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching frame within ${ms} ms`)), ms);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(t);
          this.frames.splice(this.frames.indexOf(f), 1);
          resolve(f);
        },
      });
    });
  }
}

/** A node (domain alice, IP 1) on a memory link whose other end is a raw peer. Destroy the node. */
export function rawLink(options: NodeOptions = {}): { node: Node; raw: RawPeer } {
  const [a, b] = memoryPair();
  const node = new Node(a, { domain: 'alice', ip: 1, ...options });
  return { node, raw: new RawPeer(b) };
}

/**
 * The raw peer (IP 2, port 5000) opens a stream to port 80 of the node of `rawLink` (IP 1) with
 * this window and caps byte (none: a Go-like plain v3 open). Resolves with the node's answer and,
 * once accepted, its end of the stream.
 */
export async function rawStream(
  node: Node,
  raw: RawPeer,
  window: number,
  caps?: number,
): Promise<{ ack: OpenAck; accepted: FlexStream }> {
  const accepting = node.listen(80).accept();
  raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window, caps }));
  const ack = decodeOpenAck((await raw.next((f) => f.cmd === Cmd.OPEN_ACK)).payload);
  return { ack, accepted: await accepting };
}
