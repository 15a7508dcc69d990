import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

/**
 * What the admin server does with a request body nobody read. Most answers go out before the
 * body is read, or without reading it at all: a 401 without the token, a 403, 404 or 405, any
 * route but the kick. Node then reads and drops the rest of the body as it arrives, whole, bounded
 * only by the 30 s request timeout, and on a kept-alive connection request after request: a
 * client without the token could make the server read hundreds of megabytes a second per
 * connection, for nothing. Closing at once is no answer either: a client that writes its whole
 * body before it reads (most simple HTTP clients) then loses its answer to a reset.
 */

/**
 * Bytes of unread bodies the server reads and drops on one connection, over all its requests.
 * Anyone who can reach the port can send them, token or not, so the bound is small: the largest
 * body the API takes is a kick's, `maxBodyBytes` (16 KiB by default), and this lets a client
 * that sent a few of those to the wrong place, with the wrong method or without the token still
 * read its answers. A connection past it is closed; it counts per connection, not per request,
 * so that keep-alive does not multiply it.
 */
export const UNREAD_BYTES = 64 * 1024;

/**
 * Bytes each connection has had the server read for nothing, over all its requests: bodies
 * nobody read, and those of kicks answered 413 (http.ts). Counted per connection, not per
 * request, so that keep-alive does not multiply the bounds.
 */
const dropped = new WeakMap<Socket, number>();

/** Requests whose body is read or dropped already: the kick's reader, or dropRest below. */
const claimed = new WeakSet<IncomingMessage>();

/** Marks the body of `req` as read by the route: nothing here touches it then. */
export function claimBody(req: IncomingMessage): void {
  claimed.add(req);
}

/**
 * Requests sent with `Expect: 100-continue` whose `100 Continue` has not gone out, with their
 * responses. Node would send it before the server had looked at the request, inviting a client
 * to send a body that was about to be refused (401, 404, 413); the server sends it only once a
 * route sets out to read the body (readJsonBody). A request answered without it has its
 * connection closed by Node: the client may or may not send the body then, so nothing after the
 * answer could be told apart from it.
 */
const awaiting = new WeakMap<IncomingMessage, ServerResponse>();

/** Holds back the `100 Continue` that `req` asked for until sendContinue(). */
export function holdContinue(req: IncomingMessage, res: ServerResponse): void {
  awaiting.set(req, res);
}

/** Sends the `100 Continue` that `req` asked for, if it did and its answer has not started. */
export function sendContinue(req: IncomingMessage): void {
  const res = awaiting.get(req);
  if (res === undefined) return;
  awaiting.delete(req);
  if (!res.headersSent) res.writeContinue();
}

function count(socket: Socket, bytes: number): void {
  dropped.set(socket, (dropped.get(socket) ?? 0) + bytes);
}

/**
 * Reads and drops the rest of the body of `req`, of which `read` bytes were read (and are now
 * dropped) already, while its connection's bytes dropped stay within `budget`; more closes the
 * connection. Node's parser stops at a declared length, and a chunked body at its last chunk.
 * False, reading nothing, when a declared rest does not fit or nothing is left: the answer must
 * then say `connection: close` (Node closes once it is out).
 */
export function dropRest(req: IncomingMessage, budget: number, read = 0): boolean {
  claimed.add(req);
  const socket = req.socket;
  count(socket, read);
  let left = budget - (dropped.get(socket) ?? 0);
  const declared = req.headers['content-length'];
  if (left <= 0 || (declared !== undefined && Number(declared) - read > left)) {
    // A reader that gave up (a 413) left the body flowing: read no more of it.
    req.pause();
    return false;
  }
  const onData = (chunk: Buffer): void => {
    left -= chunk.length;
    count(socket, chunk.length);
    if (left >= 0) return;
    req.off('data', onData);
    socket.destroy();
  };
  req.on('data', onData);
  return true;
}

/** Whether `req` has a body (a request without Content-Length or Transfer-Encoding has none). */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Called as an answer's head is written: if the body of `req` is still unread, drops it within
 * UNREAD_BYTES dropped on the connection, or else adds `connection: close` to the answer.
 */
export function settleBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || claimed.has(req) || !hasBody(req)) return;
  if (!dropRest(req, UNREAD_BYTES)) res.setHeader('connection', 'close');
}

/**
 * The admin server's responses: each settles an unread request body as its head is written,
 * which every answer does (writeHead, or Node's implicit head at the first write), whichever
 * route or error sends it.
 */
export class AdminResponse extends ServerResponse {
  override writeHead(
    statusCode: number,
    statusMessage?: string,
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this;
  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(
    statusCode: number,
    message?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    settleBody(this.req, this);
    return typeof message === 'string'
      ? super.writeHead(statusCode, message, headers)
      : super.writeHead(statusCode, message);
  }
}
