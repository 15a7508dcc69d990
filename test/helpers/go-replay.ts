import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Transport } from '../../src/transport/types.js';
import { Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../src/wire/frame.js';

/**
 * Replaying the recorded Go conversations of test/fixtures/vectors/sessions against one flexmux
 * node: loading a recording, and a raw "switcher" end of a transport that sends recorded frames
 * and waits for the node's answers (vectors README, "sessions/*.json").
 */

export interface SessionStep {
  conn: string;
  t: number;
  event?: string;
  step?: string;
  ok?: boolean;
  error?: string;
  ip?: number;
  local?: string;
  remote?: string;
  bytes?: number;
  readSizes?: number[];
}

interface RawFrame {
  t: number;
  dir?: 'c2s' | 's2c';
  conn?: string;
  hex?: string;
  note?: string;
  event?: string;
  partial?: string;
  payloadTruncated?: boolean;
  payloadLength?: number;
  payloadSha256?: string;
}

export interface Session {
  name: string;
  transport: string;
  connections: Record<string, { transport: string; domain: string; role: string; window?: number }>;
  admissions: { conn: string; domain: string; ip: number }[];
  steps: SessionStep[];
  frames: RawFrame[];
}

/** One recorded flex frame after admission, with any omitted payload rebuilt. */
export interface RecordedFrame {
  t: number;
  dir: 'c2s' | 's2c';
  note: string;
  frame: Frame;
}

export function loadSession(name: string): Session {
  const url = new URL(`../fixtures/vectors/sessions/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Session;
}

/** An omitted payload: byte i = i mod 256 (vectors README, "Conventions"). */
export function modPattern(length: number, offset = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (offset + i) & 0xff;
  return out;
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * The flex frames of one connection in recorded order, both directions, without the admission
 * exchange (a replay starts the node after admission) and without transport events.
 */
export function recordedFrames(session: Session, conn: string): RecordedFrame[] {
  const out: RecordedFrame[] = [];
  for (const r of session.frames) {
    if (r.conn !== conn || r.hex === undefined || r.event !== undefined || r.partial !== undefined) continue;
    let bytes = fromHex(r.hex);
    if (r.payloadTruncated) {
      const payload = modPattern(r.payloadLength!);
      const sum = createHash('sha256').update(payload).digest('hex');
      if (sum !== r.payloadSha256)
        throw new Error(`rebuilt payload of frame at t=${r.t} does not hash right`);
      bytes = Buffer.concat([bytes, payload]);
    }
    const frames: Frame[] = [];
    new FrameDecoder((f) => frames.push(f)).push(bytes);
    if (frames.length !== 1) throw new Error(`recorded frame at t=${r.t} is not one frame`);
    if (frames[0].cmd === Cmd.ADMIT) continue;
    out.push({ t: r.t, dir: r.dir!, note: r.note ?? '', frame: frames[0] });
  }
  return out;
}

/** A frame the node sent, as the driver classified it. */
export interface Received {
  frame: Frame;
  /** Addressed to the node's own IP: routed straight back, as a Go switcher does (PROTOCOL.md 7.4). */
  looped: boolean;
  /** The answer to one of the driver's own barrier pings. */
  barrier: boolean;
}

interface Waiter {
  pred: (r: Received, index: number) => boolean;
  from: number;
  resolve: (v: { received: Received; index: number }) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Barrier ping ids: far from the ids a node's own pings or a switcher's liveness pings use. */
const BARRIER_BASE = 60_000;

/**
 * The switcher's side of a node's transport: decodes what the node sends (one frame per message
 * under message framing, any chunking otherwise), sends raw frames, and waits, with a bounded
 * timeout, for frames that match a predicate. Frames the node addresses to its own IP are sent
 * straight back, as a Go switcher routes them.
 */
export class SwitcherDriver {
  readonly received: Received[] = [];
  closed = false;
  closeError: Error | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly closeWaiters: (() => void)[] = [];
  private readonly decoder: FrameDecoder | null;
  private nextBarrier = BARRIER_BASE;
  private readonly barrierIds = new Set<number>();

  constructor(
    private readonly transport: Transport,
    private readonly nodeIP: number,
    private readonly timeoutMs = 5_000,
  ) {
    this.decoder = transport.framing === 'stream' ? new FrameDecoder((f) => this.onFrame(f)) : null;
    transport.attach({
      data: (chunk) => {
        if (this.decoder) this.decoder.push(chunk);
        // Each message must be exactly one frame (PROTOCOL.md 1.6); decodeMessage insists.
        else this.onFrame(decodeMessage(chunk));
      },
      drain: () => {},
      close: (err) => {
        this.closed = true;
        this.closeError = err;
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`connection closed while waiting for a frame${err ? `: ${err.message}` : ''}`));
        }
        for (const c of this.closeWaiters.splice(0)) c();
      },
    });
  }

  send(f: Frame): void {
    if (!this.transport.send([encodeFrame(f)])) {
      // Never expected in these tests: the memory transport's high-water mark is far above them.
      throw new Error('driver transport applied backpressure');
    }
  }

  /** Resolves with the first frame at or after `from` that matches; rejects after the timeout. */
  waitFor(
    pred: (r: Received, index: number) => boolean,
    what: string,
    from = 0,
    timeoutMs = this.timeoutMs,
  ): Promise<{ received: Received; index: number }> {
    for (let i = from; i < this.received.length; i++) {
      if (pred(this.received[i], i)) return Promise.resolve({ received: this.received[i], index: i });
    }
    if (this.closed) return Promise.reject(new Error(`connection closed before ${what}`));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        from,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(new Error(`no ${what} from the node within ${timeoutMs} ms (got ${this.summary()})`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Resolves once `cond()` holds, checked now and after every frame; rejects after the timeout. */
  async waitUntil(cond: () => boolean, what: string, timeoutMs = this.timeoutMs): Promise<void> {
    if (cond()) return;
    await this.waitFor(() => cond(), what, this.received.length, timeoutMs);
  }

  /**
   * Everything the node put on the wire before this call has arrived when this resolves. Two
   * liveness pings in a row, each sent only after the previous answer arrived: the node flushes
   * whatever an earlier frame made it send before it reads the next ping, and the transport keeps
   * order (PROTOCOL.md 6.3 for the ping, 7.4 for the order).
   */
  async barrier(domain = ''): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const id = this.nextBarrier++;
      this.barrierIds.add(id);
      const from = this.received.length;
      this.send(makeFrame(Cmd.PING, this.nodeIP, 0, SWITCHER_IP, id, new TextEncoder().encode(domain)));
      await this.waitFor((r) => r.barrier && r.frame.dstPort === id, `answer to barrier ping ${id}`, from);
    }
  }

  /** Resolves when the node's transport has closed. */
  whenClosed(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The node's frames other than barrier answers and looped-back frames. */
  wireFrames(): Frame[] {
    return this.received.filter((r) => !r.barrier && !r.looped).map((r) => r.frame);
  }

  private onFrame(f: Frame): void {
    // Decoded payloads may be views into a reused chunk: keep a copy.
    const frame = { ...f, payload: new Uint8Array(f.payload) };
    const barrier = f.cmd === Cmd.PING_ACK && f.dstIP === SWITCHER_IP && this.barrierIds.has(f.dstPort);
    const looped = !barrier && f.dstIP === this.nodeIP;
    const r: Received = { frame, looped, barrier };
    this.received.push(r);
    const index = this.received.length - 1;
    if (looped) this.send(frame);
    for (const w of [...this.waiters]) {
      if (index >= w.from && w.pred(r, index)) {
        clearTimeout(w.timer);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve({ received: r, index });
      }
    }
  }

  private summary(): string {
    const counts = new Map<number, number>();
    for (const r of this.received) counts.set(r.frame.cmd, (counts.get(r.frame.cmd) ?? 0) + 1);
    return [...counts].map(([c, n]) => `${n}x cmd ${c}`).join(', ') || 'nothing';
  }
}

/**
 * Reads exactly `n` bytes as a Go `Read` loop would, in flowing mode so every chunk counts as
 * consumed the moment it is delivered; pauses the stream afterwards.
 */
export function readExactly(s: Readable, n: number, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      s.pause();
      reject(new Error(`read ${n}: only ${got} bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got < n) return;
      s.pause();
      cleanup();
      const all = Buffer.concat(chunks);
      if (all.length > n) s.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`stream ended after ${got} of ${n} bytes`));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onError);
    // A 'data' listener alone does not restart a stream that was paused explicitly.
    s.resume();
  });
}

/**
 * A Go acceptor's window choice (PROTOCOL.md 3.4 step 3), written out here independently of
 * src/wire/open.ts so the driver does not borrow the code under test.
 */
export function goNegotiateWindow(local: number, remote: number): number {
  const l = local | 0;
  const r = remote | 0;
  let result = l;
  if (r > 0 && (l <= 0 || r < l)) result = r;
  return result;
}

/** What a Go stream uses as credit for a wire window: <= 0 as int32 means 2 MiB (PROTOCOL.md 3.5). */
export function goEffectiveWindow(window: number): number {
  return (window | 0) > 0 ? window | 0 : 2 * 1024 * 1024;
}

/** A successful Go OpenStream ACK payload: 00 ‖ window (u32 BE), no caps byte (PROTOCOL.md 3.4). */
export function goOpenAckPayload(window: number): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(1, window >>> 0);
  return out;
}

/** The Go receive FIFO size in frames for a window (PROTOCOL.md 4.4). */
export function goReceiveQueueFrames(window: number): number {
  return Math.max(16, Math.floor(window / 16384) * 4);
}
