import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, createGzip, type Gzip } from 'node:zlib';
import type { Logger } from '../util/logger.js';
import { interval, type TimerHandle, timeout } from '../util/timers.js';
import { adminDefaults } from './config.js';
import { baseHeaders, HttpError } from './http.js';

/**
 * One open stream; `gzip` compresses what goes to `res` when the request accepted gzip. Messages
 * sent to a channel go to its streams only (feed.ts: full snapshots or their changes).
 */
interface Stream {
  readonly res: ServerResponse;
  readonly gzip: Gzip | null;
  readonly channel: string;
  /**
   * The hello's bytes left unsent when it was written, allowed above `bufferLimit` until the
   * stream's unsent bytes first fit under the limit (0 from then on): see write().
   */
  hello: number;
}

/**
 * Server-Sent Events for the dashboard. Every message is serialised once and written to every
 * open stream. The number of streams is bounded, and a stream whose unsent bytes pass
 * `bufferLimit` (a reader that stopped reading) is closed instead of buffering without end; its
 * hello counts above the limit until it is out (write()).
 *
 * A request that accepts gzip gets its stream compressed, with one deflate context per stream
 * flushed after every message (so each arrives at once, whole). A snapshot of 1,000 clients is
 * some 345 KB of JSON every second, and its rows repeat the same keys and similar numbers: gzip
 * makes it about 15 KB (docs/admin.md). Browsers decompress fetch bodies themselves.
 */
export class EventHub {
  private readonly streams = new Set<Stream>();
  private readonly keepalive: ReturnType<typeof setInterval>;

  constructor(
    private readonly max: number,
    private readonly bufferLimit: number,
    private readonly logger: Logger,
    /**
     * ms an ended stream's answer may make no progress before its connection is closed: the
     * stall deadline every other answer has (server.ts), which an open stream does without.
     */
    private readonly stallTimeout: number = adminDefaults.headersTimeout,
  ) {
    // Proxies drop connections that stay silent; a comment line costs nothing.
    this.keepalive = interval(() => this.write(': keepalive\n\n'), 15_000);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Streams open on `channel`. */
  count(channel: string): number {
    let n = 0;
    for (const s of this.streams) if (s.channel === channel) n++;
    return n;
  }

  /**
   * Starts a stream with the messages `first()` gives, called only when the stream opens (not
   * for HEAD, not for a 503), on `channel`: (event name, data) pairs, or messages formatted
   * already (formatEvent(): one that several streams share). Throws 503 when full.
   */
  open(
    req: IncomingMessage,
    res: ServerResponse,
    first: () => readonly (string | readonly [string, unknown])[],
    channel = 'full',
  ): void {
    if (this.streams.size >= this.max) {
      throw new HttpError(503, 'unavailable', `${this.max} event streams are open already`, {
        'retry-after': '5',
      });
    }
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const headers: Record<string, string> = {
      ...baseHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
      // A cache or proxy must not hand a compressed stream to a client that did not ask for one.
      vary: 'accept-encoding',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    if (req.method === 'HEAD') {
      // No body, so Node would never flush the headers of an open stream: answer and finish.
      res.writeHead(200, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, connection: 'keep-alive' });
    req.socket.setNoDelay(true);
    // No stall deadline (server.ts): a stream may be quiet for long, and bufferLimit bounds a
    // reader that stopped reading.
    req.socket.setTimeout(0);
    const stream: Stream = { res, gzip: gzip ? compressor(res) : null, channel, hello: 0 };
    this.streams.add(stream);
    res.on('close', () => {
      this.streams.delete(stream);
      // A deflate context holds some 256 KB outside the JS heap until it is destroyed.
      stream.gzip?.destroy();
    });
    let text = 'retry: 2000\n\n';
    for (const m of first()) text += typeof m === 'string' ? m : format(m[0], m[1]);
    put(stream, text);
    stream.hello = unsent(stream);
  }

  /** To every stream, or to those of `channel`. */
  send(event: string, data: unknown, channel?: string): void {
    if (this.streams.size > 0) this.write(format(event, data), channel);
  }

  /**
   * Ends every stream, and stops the keep-alive: the hub is done. Settles once every stream's
   * end went out (as endAll()), or after `grace` ms: a reader that stopped reading would hold it
   * for as long as it liked.
   */
  close(grace = 0): Promise<void> {
    clearInterval(this.keepalive);
    const ended = this.endAll();
    let timer: TimerHandle | undefined;
    const late = new Promise<void>((r) => {
      timer = timeout(r, grace);
    });
    return Promise.race([ended, late]).finally(() => clearTimeout(timer));
  }

  /**
   * Ends every stream open now; later ones may open (a rotated admin token: those opened with
   * the old one must not go on receiving, and a reader with the new one reconnects). Settles
   * once each ended answer has gone out whole or its connection closed. A compressed stream
   * ends later than a plain one: its trailer comes out of the compressor a turn or more after
   * end(), and a connection closed before then cuts the body (a gzip reader fails with
   * "aborted" instead of seeing it end).
   */
  endAll(): Promise<void> {
    const done: Promise<void>[] = [];
    for (const s of this.streams) {
      done.push(settled(s.res));
      // Forgotten here, with its bufferLimit: from now on an answer like any other, closed if
      // it stalls. Without a deadline, a reader that had stopped reading kept its connection,
      // and the bytes held for it, for as long as it liked (one that read with a leaked token
      // too, after the rotation meant to cut it off).
      s.res.socket?.setTimeout(this.stallTimeout);
      // The gzip trailer first; the compressor ends the response after it (compressor()).
      if (s.gzip !== null) s.gzip.end();
      else s.res.end();
    }
    this.streams.clear();
    return Promise.all(done).then(() => undefined);
  }

  private write(text: string, channel?: string): void {
    for (const s of this.streams) {
      if (channel !== undefined && s.channel !== channel) continue;
      const left = unsent(s);
      // The hello is allowed above the limit once: with a limit below its size (a hello of
      // 1,000 clients and their sparklines is 0.7 MB and more), a reader that took more than a
      // sample to receive it was closed, reconnected, got the hello again, and so on for ever.
      // Once the unsent bytes fit under the limit, the hello is out and the limit alone holds.
      if (left <= this.bufferLimit) s.hello = 0;
      else if (left > this.bufferLimit + s.hello) {
        this.logger.warn({ buffered: left }, 'admin event stream too slow; closing it');
        this.streams.delete(s);
        s.gzip?.destroy();
        s.res.destroy();
        continue;
      }
      put(s, text);
    }
  }
}

/** Settles when `res` has gone out whole ('finish': its last write was flushed) or closed. */
function settled(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
  });
}

/**
 * A gzip stream into `res`. Its output is written as it comes rather than piped: a pipe would
 * stop the compressor when the socket is full, and the unsent bytes would then pile up as text
 * in front of it; written through, they wait in `res`, compressed, where the limit sees them.
 */
function compressor(res: ServerResponse): Gzip {
  const z = createGzip();
  z.on('data', (chunk: Buffer) => res.write(chunk));
  z.on('end', () => res.end());
  z.on('error', () => res.destroy());
  return z;
}

/** Compressed bytes the socket has not taken, plus text the compressor has not yet taken. */
function unsent(s: Stream): number {
  return s.res.writableLength + (s.gzip?.writableLength ?? 0);
}

function put(s: Stream, text: string): void {
  if (s.gzip === null) {
    s.res.write(text);
    return;
  }
  s.gzip.write(text);
  // A sync flush ends the deflate block on a byte boundary: the reader can decode this message
  // now, and the context (the window of earlier text) carries on to the next.
  s.gzip.flush(constants.Z_SYNC_FLUSH);
}

/**
 * Whether an Accept-Encoding header accepts gzip: `gzip` (or `x-gzip`, or `*`) listed without
 * `q=0`. Browsers send `gzip, deflate, br, zstd`; curl sends nothing unless `--compressed`.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const ok = Number.isFinite(weight) && weight > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return ok;
    if (coding === '*') star = ok;
  }
  return star;
}

/** One SSE message; JSON never holds a raw newline, so `data:` is a single line. */
export function formatEvent(event: string, data: unknown): string {
  return format(event, data);
}

function format(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
