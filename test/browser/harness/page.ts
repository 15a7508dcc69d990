/**
 * The in-page side of the browser tests: a browser node driven by page.evaluate through
 * `window.flexTest`. Bundled by esbuild with `src/browser.js` left external and loaded from
 * /flexmux.browser.js, so the tests exercise the same single-file bundle a <script type="module">
 * user loads.
 */
import {
  AdmissionError,
  ConnectionClosedError,
  connect,
  DialRefusedError,
  FlexError,
  type Session,
  StreamClosedError,
  StreamResetError,
  type WebStream,
} from '../../../src/browser.js';
import { pattern } from '../../helpers/pattern.js';

export interface ErrorInfo {
  name: string;
  message: string;
  /** The flexmux error classes `instanceof` matches. */
  instanceOf: string[];
  code?: string;
  resetCode?: number;
  remote?: boolean;
  reason?: string;
}

export interface SessionInfo {
  state: string;
  connections: number;
  ip: number;
  disconnects: ErrorInfo[];
}

export interface ReadResult {
  text: string;
  bytes: number;
  error?: ErrorInfo;
}

export interface TransferResult {
  sentHash: string;
  receivedHash: string;
  received: number;
  ms: number;
}

export interface FloodState {
  written: number;
  done: boolean;
  error?: ErrorInfo;
  sendCredit: number;
  receiveBuffered: number;
}

export interface ConnectOptions {
  password: string;
  domain: string;
  backoffInitial?: number;
  reconnect?: boolean;
}

export interface Harness {
  /** Starts a session; resolves with the virtual IP once admitted, rejects on the first failure. */
  connect(url: string, options: ConnectOptions): Promise<number>;
  session(): SessionInfo;
  /** Resolves once the session has been admitted `n` times in all (reconnections count). */
  admitted(n: number): Promise<number>;
  closeSession(): Promise<void>;
  ping(domain: string): Promise<number>;
  /** Opens a stream; returns its handle. */
  dial(address: string): Promise<number>;
  /** Listens on `port`, queueing accepted streams for accept(). */
  listen(port: number): void;
  accept(port: number): Promise<{ id: number; remoteDomain: string }>;
  /** Echoes every stream accepted on `port` (readable piped to writable). */
  serveEcho(port: number): void;
  write(id: number, text: string): Promise<void>;
  /** Closes the writable side: a half-close. */
  closeWrite(id: number): Promise<void>;
  /** Reads to the end (or the error) and returns the text. */
  readText(id: number): Promise<ReadResult>;
  /** Reads until at least `n` bytes arrived (or the end, or an error). */
  readSome(id: number, n: number): Promise<ReadResult>;
  /** Reads to the end and returns the byte count and SHA-256. */
  drain(id: number): Promise<{ bytes: number; hash: string; error?: ErrorInfo }>;
  /** Aborts the writable side with a reset code. */
  abort(id: number, resetCode: number): Promise<void>;
  /** Cancels the readable side with a reset code. */
  cancel(id: number, resetCode: number): Promise<void>;
  /** Dials `address`, sends `size` pattern bytes while reading the echo; hashes both with Web Crypto. */
  transfer(address: string, size: number, seed: number): Promise<TransferResult>;
  /** Starts writing `size` pattern bytes in the background, honouring backpressure, then closes. */
  flood(id: number, size: number, seed: number): void;
  floodState(id: number): FloodState;
  /** Flow-control counters of a stream. */
  streamInfo(id: number): { sendCredit: number; receiveBuffered: number };
  floodDone(id: number): Promise<FloodState>;
  streamClosed(id: number): Promise<void>;
  /** What an error is: name, code, the classes instanceof matches. */
  errorInfo(err: unknown): ErrorInfo;
}

declare global {
  interface Window {
    flexTest: Harness;
  }
}

interface Entry {
  s: WebStream;
  writer?: WritableStreamDefaultWriter<Uint8Array>;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  flood?: { written: number; done: boolean; error?: ErrorInfo; finished: Promise<void> };
}

const PIECE = 64 * 1024;
let session: Session<WebStream> | null = null;
const disconnects: ErrorInfo[] = [];
const streams = new Map<number, Entry>();
const queues = new Map<number, { streams: WebStream[]; waiters: ((s: WebStream) => void)[] }>();
let nextId = 1;

const CLASSES = {
  FlexError,
  AdmissionError,
  ConnectionClosedError,
  DialRefusedError,
  StreamClosedError,
  StreamResetError,
};

function info(err: unknown): ErrorInfo {
  const e = err as Partial<ErrorInfo> & { name?: string; message?: string };
  return {
    name: e?.name ?? typeof err,
    message: e?.message ?? String(err),
    instanceOf: Object.entries(CLASSES)
      .filter(([, c]) => err instanceof c)
      .map(([n]) => n),
    code: e?.code,
    resetCode: e?.resetCode,
    remote: e?.remote,
    reason: e?.reason,
  };
}

function must(): Session<WebStream> {
  if (session === null) throw new Error('no session: call connect() first');
  return session;
}

function add(s: WebStream): number {
  const id = nextId++;
  streams.set(id, { s });
  return id;
}

function entry(id: number): Entry {
  const e = streams.get(id);
  if (e === undefined) throw new Error(`no stream ${id}`);
  return e;
}

function writer(e: Entry): WritableStreamDefaultWriter<Uint8Array> {
  e.writer ??= e.s.writable.getWriter();
  return e.writer;
}

async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', b));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function readBytes(
  e: Entry,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ data: Uint8Array<ArrayBuffer>; error?: ErrorInfo }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let error: ErrorInfo | undefined;
  e.reader ??= e.s.readable.getReader();
  try {
    while (size < limit) {
      const { done, value } = await e.reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch (err) {
    error = info(err);
  }
  const data = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    data.set(c, off);
    off += c.length;
  }
  return { data, error };
}

function queue(port: number): { streams: WebStream[]; waiters: ((s: WebStream) => void)[] } {
  let q = queues.get(port);
  if (q === undefined) {
    q = { streams: [], waiters: [] };
    queues.set(port, q);
  }
  return q;
}

function floodState(e: Entry): FloodState {
  const f = e.flood;
  if (f === undefined) throw new Error('no flood on this stream');
  return {
    written: f.written,
    done: f.done,
    error: f.error,
    sendCredit: e.s.core.sendCredit,
    receiveBuffered: e.s.core.receiveBuffered,
  };
}

const harness: Harness = {
  connect(url, o) {
    if (session !== null) throw new Error('already connected');
    const s = connect(url, { ...o, backoffMax: 2_000 });
    session = s;
    s.on('disconnect', (err) => disconnects.push(info(err)));
    return new Promise<number>((resolve, reject) => {
      const onReady = (ip: number): void => {
        s.off('ready', onReady);
        s.off('disconnect', onFail);
        resolve(ip);
      };
      const onFail = (err: Error): void => {
        s.off('ready', onReady);
        s.off('disconnect', onFail);
        session = null;
        void s.close();
        reject(err);
      };
      s.on('ready', onReady);
      s.on('disconnect', onFail);
    });
  },

  session() {
    const s = must();
    return { state: s.state, connections: s.connections, ip: s.ip, disconnects };
  },

  async admitted(n) {
    const s = must();
    while (s.connections < n) {
      await new Promise<void>((resolve) => s.once('ready', () => resolve()));
    }
    return s.ip;
  },

  async closeSession() {
    const s = session;
    session = null;
    for (const e of streams.values()) e.s.destroy();
    streams.clear();
    await s?.close();
  },

  ping: (domain) => must().ping(domain, { timeout: 5_000 }),

  dial: async (address) => add(await must().dial(address, { timeout: 5_000 })),

  listen(port) {
    const q = queue(port);
    must()
      .listen(port)
      .on('stream', (s) => {
        const w = q.waiters.shift();
        if (w) w(s);
        else q.streams.push(s);
      });
  },

  async accept(port) {
    const q = queue(port);
    const s = q.streams.shift() ?? (await new Promise<WebStream>((resolve) => q.waiters.push(resolve)));
    return { id: add(s), remoteDomain: s.remoteDomain };
  },

  serveEcho(port) {
    must()
      .listen(port)
      .on('stream', (s) => {
        s.readable.pipeTo(s.writable).catch(() => s.destroy());
      });
  },

  async write(id, text) {
    await writer(entry(id)).write(new TextEncoder().encode(text));
  },

  async closeWrite(id) {
    await writer(entry(id)).close();
  },

  async readText(id) {
    const { data, error } = await readBytes(entry(id));
    return { text: new TextDecoder().decode(data), bytes: data.length, error };
  },

  async readSome(id, n) {
    const { data, error } = await readBytes(entry(id), n);
    return { text: new TextDecoder().decode(data), bytes: data.length, error };
  },

  async drain(id) {
    const { data, error } = await readBytes(entry(id));
    return { bytes: data.length, hash: await sha256(data), error };
  },

  async abort(id, resetCode) {
    const e = entry(id);
    const reason = Object.assign(new Error('aborted by the page'), { resetCode });
    await (e.writer ? e.writer.abort(reason) : e.s.writable.abort(reason));
  },

  async cancel(id, resetCode) {
    const e = entry(id);
    const reason = Object.assign(new Error('cancelled by the page'), { resetCode });
    await (e.reader ? e.reader.cancel(reason) : e.s.readable.cancel(reason));
  },

  async transfer(address, size, seed) {
    const data = pattern(size, seed);
    const sentHash = await sha256(data);
    const s = await must().dial(address, { timeout: 5_000 });
    const t0 = performance.now();
    const reading = readBytes({ s });
    const w = s.writable.getWriter();
    for (let off = 0; off < size; off += PIECE) {
      await w.ready;
      // Rejections surface through ready/close; the write promises themselves are not awaited.
      w.write(data.subarray(off, off + PIECE)).catch(() => {});
    }
    await w.close();
    const { data: got, error } = await reading;
    if (error) throw new Error(`echo failed after ${got.length} bytes: ${error.message}`);
    const ms = performance.now() - t0;
    return { sentHash, receivedHash: await sha256(got), received: got.length, ms };
  },

  flood(id, size, seed) {
    const e = entry(id);
    const data = pattern(size, seed);
    const w = writer(e);
    const f: NonNullable<Entry['flood']> = { written: 0, done: false, finished: Promise.resolve() };
    e.flood = f;
    f.finished = (async () => {
      try {
        for (let off = 0; off < size; off += PIECE) {
          const piece = data.subarray(off, off + PIECE);
          await w.write(piece);
          f.written += piece.length;
        }
        await w.close();
      } catch (err) {
        f.error = info(err);
      }
      f.done = true;
    })();
  },

  floodState: (id) => floodState(entry(id)),

  streamInfo(id) {
    const { core } = entry(id).s;
    return { sendCredit: core.sendCredit, receiveBuffered: core.receiveBuffered };
  },

  async floodDone(id) {
    const e = entry(id);
    await e.flood?.finished;
    return floodState(e);
  },

  streamClosed: (id) => entry(id).s.closed,

  errorInfo: info,
};

window.flexTest = harness;
document.body.dataset.ready = 'true';
