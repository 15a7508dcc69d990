import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../util/logger.js';
import { interval } from '../util/timers.js';
import { baseHeaders, HttpError } from './http.js';

/**
 * Server-Sent Events for the dashboard. Every message is serialised once and written to every
 * open stream. The number of streams is bounded, and a stream whose unsent bytes pass
 * `bufferLimit` (a reader that stopped reading) is closed instead of buffering without end.
 */
export class EventHub {
  private readonly streams = new Set<ServerResponse>();
  private readonly keepalive: ReturnType<typeof setInterval>;

  constructor(
    private readonly max: number,
    private readonly bufferLimit: number,
    private readonly logger: Logger,
  ) {
    // Proxies drop connections that stay silent; a comment line costs nothing.
    this.keepalive = interval(() => this.write(': keepalive\n\n'), 15_000);
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Starts a stream with the (event name, data) messages `first()` gives, called only when the
   * stream opens (not for HEAD, not for a 503). Throws 503 when full.
   */
  open(req: IncomingMessage, res: ServerResponse, first: () => readonly [string, unknown][]): void {
    if (this.streams.size >= this.max) {
      throw new HttpError(503, 'unavailable', `${this.max} event streams are open already`, {
        'retry-after': '5',
      });
    }
    const headers = {
      ...baseHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
    };
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
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
    let text = 'retry: 2000\n\n';
    for (const [event, data] of first()) text += format(event, data);
    res.write(text);
  }

  send(event: string, data: unknown): void {
    if (this.streams.size > 0) this.write(format(event, data));
  }

  /** Ends every stream. */
  close(): void {
    clearInterval(this.keepalive);
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private write(text: string): void {
    for (const res of this.streams) {
      if (res.writableLength > this.bufferLimit) {
        this.logger.warn({ buffered: res.writableLength }, 'admin event stream too slow; closing it');
        this.streams.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}

/** One SSE message; JSON never holds a raw newline, so `data:` is a single line. */
function format(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
