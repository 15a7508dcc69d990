import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../util/logger.js';
import { baseHeaders, type ErrorCode } from './http.js';

/**
 * What the admin server answers for a request that Node's HTTP parser refused before the server
 * saw it, or that took too long to arrive. Node, left to itself (no `clientError` listener), writes
 * a bare status line with no body there: the one place where the API's errors were not its JSON
 * `{error: {code, message}}`, so a client that reads the body to say what went wrong had nothing.
 */

/** Status, code and message answered for an error that Node's `clientError` reports; null: none. */
export function clientErrorAnswer(
  err: Error & { code?: string },
): { status: number; code: ErrorCode; message: string } | null {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, code: 'headers_too_large', message: 'the request line and headers are too large' };
  }
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') {
    return {
      status: 413,
      code: 'payload_too_large',
      message: 'the chunk extensions of the body are too large',
    };
  }
  // Node's headersTimeout and requestTimeout both end up here (its connections check).
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' };
  }
  // Anything else from the parser (llhttp's codes all start so): not valid HTTP/1.1.
  if (code.startsWith('HPE_')) {
    return { status: 400, code: 'bad_request', message: 'the request is not valid HTTP/1.1' };
  }
  // A socket error (ECONNRESET, EPIPE, ...): the connection is broken, nobody to answer.
  return null;
}

/** The whole HTTP/1.1 response for `answer`, which closes the connection. */
export function clientErrorResponse(answer: { status: number; code: ErrorCode; message: string }): string {
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
  const headers: Record<string, string | number> = {
    ...baseHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n${lines.join('')}\r\n${body}`;
}

/**
 * Answers a request Node refused (when `answerable`: no answer already under way on the
 * connection, which an error written now would corrupt or be read as), then destroys the socket,
 * as Node does. Never throws: the socket may be destroyed already. Logged at debug only: anyone
 * who can reach the port can send malformed requests, as many as they like.
 */
export function answerClientError(
  err: Error & { code?: string },
  socket: Socket,
  answerable: boolean,
  logger: Logger,
): void {
  const answer = clientErrorAnswer(err);
  logger.debug(
    { remote: socket.remoteAddress, code: err.code, status: answer?.status ?? null },
    'admin request refused before it was read',
  );
  if (answer !== null && answerable && socket.writable) socket.write(clientErrorResponse(answer));
  socket.destroy();
}
