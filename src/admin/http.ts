import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeDomain } from '../wire/domain.js';
import { claimBody, dropRest, sendContinue } from './unread.js';

/**
 * Small HTTP helpers of the admin server: one error type that carries its status, JSON replies
 * with the `{error: {code, message}}` shape, and a bounded body reader.
 */

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'request_timeout'
  | 'expectation_failed'
  | 'payload_too_large'
  | 'headers_too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'internal';

export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;

  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** A domain as the switcher names it (a path or `?domain=` value), or 400. */
export function checkDomain(raw: string | undefined): string {
  const d = raw === undefined ? null : normalizeDomain(raw);
  if (d === null) throw new HttpError(400, 'bad_request', `"${raw ?? ''}" is not a valid domain`);
  return d;
}

/**
 * The value of the query parameter `name`, or null when the query has none. Given more than
 * once, 400: `?limit=5&limit=500` used to be served with the first value and the second dropped
 * without a word, so a client could not tell which one it got.
 */
export function queryParam(url: URL, name: string): string | null {
  const all = url.searchParams.getAll(name);
  if (all.length > 1) throw new HttpError(400, 'bad_request', `${name} is given more than once`);
  return all.length === 0 ? null : all[0];
}

/**
 * A page of a list: at most `limit` items, after the item whose key is `after` (a cursor: the
 * `next` of the page before) or, without one, after the first `offset` items.
 */
export interface Page {
  offset: number;
  limit: number;
  /** Key of the last item of the page before: the page holds items with greater keys only. */
  after?: number;
}

/** Items per page of a list (clients, streams): by default, and the most `?limit=` asks. */
export const PAGE_DEFAULT = 1_000;
export const PAGE_MAX = 10_000;
/** The largest `?offset=` (nine digits). */
export const OFFSET_MAX = 999_999_999;

/**
 * The `next` of a page that ended on the item keyed `key` (`cursor` of the following page).
 * Opaque to callers: they pass it back as `?cursor=`.
 */
export function cursorOf(key: number): string {
  return String(key);
}

/**
 * Cuts `list`, read with one item more than the page holds (`limit + 1`), to the page's `limit`,
 * and answers the `next` of the page: the cursor of its last item (keyed by `key`) when an item
 * followed, else null.
 */
export function cutPage<T>(list: T[], limit: number, key: (item: T) => number): string | null {
  if (list.length <= limit) return null;
  list.length = limit;
  return cursorOf(key(list[limit - 1]));
}

/**
 * `?offset=`, `?limit=` and `?cursor=` of a list endpoint: whole numbers, `limit` from 1 to `max`
 * (`fallback` when absent), a cursor as `cursorOf()` made it, not both a cursor and an offset,
 * each at most once; else 400.
 */
export function readPage(url: URL, fallback = PAGE_DEFAULT, max = PAGE_MAX): Page {
  const read = (name: string, dflt: number, lo: number, hi: number): number => {
    const raw = queryParam(url, name);
    if (raw === null) return dflt;
    const n = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(n >= lo && n <= hi)) {
      throw new HttpError(400, 'bad_request', `${name} must be a whole number from ${lo} to ${hi}`);
    }
    return n;
  };
  const page: Page = { offset: read('offset', 0, 0, OFFSET_MAX), limit: read('limit', fallback, 1, max) };
  const cursor = queryParam(url, 'cursor');
  if (cursor === null) return page;
  if (!/^[0-9]{1,15}$/.test(cursor)) {
    throw new HttpError(400, 'bad_request', 'cursor must be the `next` of an earlier page');
  }
  if (url.searchParams.has('offset')) {
    throw new HttpError(400, 'bad_request', 'give a cursor or an offset, not both');
  }
  page.after = Number(cursor);
  return page;
}

/**
 * Headers every response carries. `x-frame-options` for the page (which holds the token and the
 * kick buttons) in browsers that do not read its CSP's frame-ancestors, and for every other
 * answer, which no page has a reason to frame either.
 */
export const baseHeaders: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...baseHeaders,
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = { ...err.headers };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="flexmux-admin"';
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, headers);
}

/**
 * The client went away before its request's body ended: nothing the server did wrong, and no
 * answer can reach it. The server logs it at debug, not as a handler failure: any client, token
 * or not, could otherwise fill the error log by cutting off its requests.
 */
export class RequestCutOff extends Error {
  constructor(cause?: Error) {
    super('the request was cut off before its body ended', { cause });
    this.name = 'RequestCutOff';
  }
}

/**
 * Reads a JSON object body of at most `limit` bytes. An empty body gives `{}`; anything but an
 * object, or a body that is not `application/json`, is a 4xx.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  // Read here, or dropped by tooLarge: not a body nobody read (unread.ts).
  claimBody(req);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw tooLarge(req, limit, 0);
  }
  // A client that asked to be told first (Expect: 100-continue) sends the body only now.
  sendContinue(req);
  const body = await readBody(req, limit);
  if (body.length === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'the body must be application/json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'the body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * The body, or a 413 as soon as it passes `limit`. Read through events, not `for await`: leaving
 * that loop early destroys the request, and with it the rest of the body that tooLarge drains.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      reject(tooLarge(req, limit, size));
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    // Node's request fails (ECONNRESET, `aborted`) when its connection ends before its body did.
    const onError = (err: Error): void => {
      stop();
      reject(new RequestCutOff(err));
    };
    const onClose = (): void => {
      stop();
      reject(new RequestCutOff());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Bytes past the limit that the server reads and drops after a 413. They count per connection,
 * with all that the connection had read for nothing before (the whole bodies of its earlier 413s,
 * bodies nobody read: unread.ts), so that keep-alive does not multiply the bound. The 413 goes
 * out at once, but a client that writes its whole body before it reads (most simple HTTP
 * clients) lost it when the server closed with the body still coming: its next write failed
 * (EPIPE, ECONNRESET) and it reported that instead. Read to its end, the body does no harm and
 * the connection stays usable. Beyond this the connection is closed: the bound is on what a
 * client can make the server read for nothing (the time it may take is bounded already, by the
 * socket timeout and requestTimeout). Larger than unread.ts's UNREAD_BYTES: only a request that
 * passed the token check gets here.
 */
const DISCARD_BYTES = 1024 * 1024;

/**
 * The 413 for a body over `limit` of which `read` bytes were read (none when its declared length
 * was over). Within DISCARD_BYTES past the limit the rest of the body is read and dropped, and the
 * connection closed should more come; beyond, the answer says `connection: close` and the rest
 * stays unread.
 */
function tooLarge(req: IncomingMessage, limit: number, read: number): HttpError {
  const headers: Record<string, string> = dropRest(req, limit + DISCARD_BYTES, read)
    ? {}
    : { connection: 'close' };
  return new HttpError(413, 'payload_too_large', `the body is larger than ${limit} bytes`, headers);
}
