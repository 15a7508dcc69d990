import type { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import type { Transport } from '../../../src/transport/types.js';
import { type AdmitResponse, openResponse, sealRequest } from '../../../src/wire/admission/index.js';
import { Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { decodeMessage, FrameDecoder } from '../../../src/wire/decoder.js';
import { encodeFrame, type Frame, makeFrame } from '../../../src/wire/frame.js';

/** A node speaking raw frames: what it sends is exactly what the test says. */
export class Raw {
  readonly inbox: Frame[] = [];
  readonly closed: Promise<Error | undefined>;
  ended = false;
  private waiters: {
    pred: (f: Frame) => boolean;
    resolve: (f: Frame) => void;
    reject: (e: Error) => void;
  }[] = [];
  ip = 0;

  constructor(readonly t: Transport) {
    const decoder = t.framing === 'stream' ? new FrameDecoder((f) => this.push(f)) : null;
    let done!: (e: Error | undefined) => void;
    this.closed = new Promise((r) => {
      done = r;
    });
    t.attach({
      data: (chunk) => {
        if (decoder) decoder.push(chunk);
        else this.push(decodeMessage(chunk));
      },
      drain: () => {},
      close: (err) => {
        this.ended = true;
        for (const w of this.waiters.splice(0))
          w.reject(new Error('connection ended before a matching frame'));
        done(err);
      },
    });
  }

  private push(f: Frame): void {
    const i = this.waiters.findIndex((w) => w.pred(f));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve(f);
    } else this.inbox.push(f);
  }

  send(f: Frame | Uint8Array): boolean {
    return this.t.send([f instanceof Uint8Array ? f : encodeFrame(f)]);
  }

  /** The next received frame matching `pred` (earlier non-matching frames stay queued). */
  next(pred: (f: Frame) => boolean = () => true, ms = 3_000): Promise<Frame> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(new Error('connection ended before a matching frame'));
    return new Promise<Frame>((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no matching frame within ${ms} ms`));
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Resolves when the switcher has handled everything sent before: a ping of the switcher. */
  async barrier(id = 0xfff0): Promise<void> {
    this.send(makeFrame(Cmd.PING, SWITCHER_IP, 0, this.ip, id));
    await this.next((f) => f.cmd === Cmd.PING_ACK && f.dstPort === id && f.srcIP === SWITCHER_IP);
  }

  /** Answers the switcher's next liveness ping, with `error` or success. */
  async answerLiveness(error?: string): Promise<Frame> {
    const ping = await this.next((f) => f.cmd === Cmd.PING && f.srcIP === SWITCHER_IP);
    const payload = error === undefined ? new Uint8Array(0) : new TextEncoder().encode(error);
    this.send(makeFrame(Cmd.PING_ACK, SWITCHER_IP, ping.srcPort, this.ip, 0, payload));
    return ping;
  }
}

export const PASSWORD = 'flex-test';
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

let hostCount = 0;

export interface JoinOptions {
  password?: string;
  timestamp?: bigint;
  framing?: 'stream' | 'message';
  /** Remote address the switcher sees. */
  remote?: string;
  mac?: string;
}

/** A raw connection handed to the switcher, not yet admitted. */
export function connectRaw(sw: Switcher, o: JoinOptions = {}): Raw {
  const remote = o.remote ?? `10.0.${(++hostCount >> 8) & 255}.${hostCount & 255}:4000`;
  const [a, b] = memoryPair({ framing: o.framing ?? 'stream', remoteAddresses: ['switcher:7000', remote] });
  sw.handle(b);
  return new Raw(a);
}

/** Sends an admission request and returns the opened response. */
export async function admitRaw(raw: Raw, domain: string, o: JoinOptions = {}): Promise<AdmitResponse> {
  const password = o.password ?? PASSWORD;
  const frame = await sealRequest(password, {
    domain,
    mac: o.mac ?? '',
    timestamp: o.timestamp ?? BigInt(Date.now()) * 1_000_000n,
  });
  raw.send(frame);
  const reply = await raw.next();
  const res = await openResponse(password, reply.payload);
  if (res.errCode === 0) raw.ip = res.ip;
  return res;
}

/** Connects and admits; fails the test if not admitted. */
export async function join(sw: Switcher, domain: string, o: JoinOptions = {}): Promise<Raw> {
  const raw = connectRaw(sw, o);
  const res = await admitRaw(raw, domain, o);
  if (res.errCode !== 0) throw new Error(`admission of ${domain} refused: ${res.errCode}`);
  return raw;
}
