import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** Raw HTTP for the admin tests: any method, header (Host too) or body; no connection reuse. */

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body when it is JSON; read it with `as` and the API's view types. */
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  token?: string;
  /** ms before the request fails (default 10 s). */
  timeout?: number;
}

/** `path` goes on the request line exactly as given. */
export function request(base: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  const url = new URL(base);
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
  return new Promise<Reply>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: o.method ?? 'GET',
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          const isJson = (res.headers['content-type'] ?? '').startsWith('application/json');
          if (isJson && text !== '') json = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.setTimeout(o.timeout ?? 10_000, () =>
      req.destroy(new Error(`timeout: ${o.method ?? 'GET'} ${path}`)),
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/**
 * Opens the event stream and collects events until `done(events)` returns true, then closes it.
 * Rejects on a non-200 reply or after `ms`.
 */
export function collectEvents(
  base: string,
  path: string,
  done: (events: SseEvent[]) => boolean,
  o: { token?: string; ms?: number; onOpen?: () => void } = {},
): Promise<SseEvent[]> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  return new Promise<SseEvent[]>((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, headers, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          req.destroy();
          reject(new Error(`event stream answered ${res.statusCode}`));
          return;
        }
        o.onOpen?.();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let end = buf.indexOf('\n\n');
          while (end >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            end = buf.indexOf('\n\n');
            const ev = /^event: (.*)$/m.exec(block);
            const data = /^data: (.*)$/m.exec(block);
            if (ev !== null && data !== null) events.push({ event: ev[1], data: JSON.parse(data[1]) });
          }
          if (done(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
          }
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(events);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`event stream: condition not met in time (${events.map((e) => e.event).join(',')})`));
    }, o.ms ?? 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
