import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { errorFields } from '../util/cause.js';
import { checkOptions } from '../util/check.js';
import { childLogger, type Logger, silentLogger } from '../util/logger.js';
import { interval, now } from '../util/timers.js';
import { StaticFiles } from './assets.js';
import { Auth } from './auth.js';
import { answerClientError } from './client-error.js';
import { type AdminOptions, checkToken, REQUEST_TIMEOUT, validateAdminOptions } from './config.js';
import { Connections } from './connections.js';
import { Crowd } from './crowd.js';
import { EventHub } from './events.js';
import { Feed } from './feed.js';
import { HostGuard } from './hosts.js';
import { baseHeaders, HttpError, RequestCutOff, sendError, sendJson } from './http.js';
import { createRegistry } from './metrics.js';
import { NodePanel } from './node-panel.js';
import { openapiDocument } from './openapi.js';
import type { Panel } from './panel.js';
import { type Route, Router } from './router.js';
import { SwitcherPanel } from './switcher-panel.js';
import { AdminResponse, claimBody, holdContinue } from './unread.js';

/**
 * The admin HTTP server: JSON API, Prometheus metrics, live events and the dashboard for one
 * switcher or one node. Nothing starts it implicitly; the CLI calls `startAdmin()` when asked.
 */

export interface AdminServer {
  /** Base URL, e.g. `http://127.0.0.1:7090/`. */
  readonly url: string;
  /** The TCP port bound (the one picked, with `port: 0`). */
  readonly port: number;
  /** This server's own Prometheus registry. */
  readonly registry: Registry;
  /**
   * Accepts `token` instead of the one given at start, from the next request on (a rotated
   * secret: the CLI's reload on SIGHUP). Event streams open then are ended, when the token
   * changed: they were opened with the old one (a reader with the new one reconnects). Throws
   * ConfigError, keeping the old token, for a token `startAdmin` would refuse, or when the server
   * was started without one.
   */
  setToken(token: string): void;
  /**
   * Stops sampling and closes the port; ends the event streams, waiting up to CLOSE_GRACE for
   * their ends to go out, then closes the connections still open. Idempotent.
   */
  close(): Promise<void>;
}

/** Starts the admin server; rejects with the listen error (EADDRINUSE, EACCES, ...). */
export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  // Named as every other call names itself (validateAdminOptions says 'admin', as a validator).
  checkOptions('startAdmin()', options);
  const o = validateAdminOptions(options);
  const logger: Logger = childLogger(options.logger ?? silentLogger, { component: 'admin' });
  const registry = createRegistry(options.switcher ? 'switcher' : 'node', o.processMetrics);
  const panel: Panel = options.switcher
    ? new SwitcherPanel(options.switcher, o, registry)
    : new NodePanel(options.node!, o, registry, logger);
  const auth = new Auth(o.token);
  const hosts = new HostGuard(o.allowedHosts, logger);
  const hub = new EventHub(o.maxEventStreams, o.eventBufferLimit, logger, o.headersTimeout);
  const files = new StaticFiles();
  await files.load(logger);
  const feed = new Feed(panel, hub);
  const router = buildRouter(panel, feed, files, registry);

  panel.tick(now(), Date.now());
  const sampler = interval(() => {
    panel.tick(now(), Date.now());
    feed.sample();
  }, o.sampleInterval);
  panel.relay((event, data) => hub.send(event, data));

  const server = createServer(
    {
      // Settles a body still unread as the answer goes out, whatever sends it (unread.ts).
      ServerResponse: AdminResponse,
      headersTimeout: o.headersTimeout,
      requestTimeout: REQUEST_TIMEOUT,
      // Node's default comes from the process (`--max-http-header-size`, which NODE_OPTIONS may
      // carry for the served application's sake): it must not raise what anyone who can reach
      // this port may make the server parse.
      maxHeaderSize: MAX_HEADER_BYTES,
      // Likewise `--insecure-http-parser` would have it take requests that are not valid HTTP:
      // one with both Content-Length and Transfer-Encoding is read one way here and perhaps the
      // other by a reverse proxy in front (request smuggling, past the proxy's rules).
      insecureHTTPParser: false,
      // Node checks both timeouts only this often (default 30 s, which triples a 10 s limit).
      connectionsCheckingInterval: Math.min(o.headersTimeout, 1_000),
    },
    (req, res) => {
      // Node parses requests pipelined behind one still being answered and hands each over at
      // once, keeping the answers until the earlier ones end. Behind an event stream that is
      // never: a client that pipelined 64 KB of list requests behind one had the server build
      // some 1,400 answers and hold them for as long as it read events. So a connection has one
      // request handled at a time; the next waits for its answer to end, and a client with more
      // than MAX_WAITING waiting is closed.
      const socket = req.socket;
      // Closed below (too many waiting): Node still hands over the rest of what it parsed.
      if (socket.destroyed) return;
      let line = lines.get(socket);
      if (line === undefined) {
        line = { waiting: [], answering: null };
        lines.set(socket, line);
      }
      const conn = line;
      const run = (): void => {
        // From here Node's own timeouts apply (headers, request, keep-alive), and the socket
        // timeout bounds how long its answer may stall: none of Node's timeouts covers a client
        // that pipelines requests and never reads the answers (Node stops reading it, and the
        // socket and its maxConnections slot were held for good). Every write that goes out
        // restarts it; an event stream clears it (EventHub.open) and has its own limit, until it
        // is ended (EventHub.endAll sets it again).
        conn.answering = res;
        socket.setTimeout(o.headersTimeout);
        res.once('close', () => {
          conn.answering = null;
          if (socket.destroyed) conn.waiting.length = 0;
          else conn.waiting.shift()?.();
        });
        handle(req, res).catch((err: unknown) => {
          logger.error(errorFields(err), 'admin request handling failed');
          res.destroy();
        });
      };
      if (conn.answering === null) run();
      else if (conn.waiting.length < MAX_WAITING) conn.waiting.push(run);
      else {
        logger.warn(
          { remote: socket.remoteAddress, max: MAX_WAITING },
          'admin connection closed: too many requests pipelined behind an unfinished answer',
        );
        conn.waiting.length = 0;
        socket.destroy();
      }
    },
  );
  // Node answers `Expect: 100-continue` with `100 Continue` before the server has looked at the
  // request, unless someone listens for it: the answer waits until a route reads the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    holdContinue(req, res);
    server.emit('request', req, res);
  });
  // Any other expectation Node answered itself, with a bare 417 status line: not the API's JSON
  // error, nor the headers every answer carries. The client may send its body or not, so what
  // follows could not be told from it: closed after the answer, its body unread.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    claimBody(req);
    const expect = String(req.headers.expect).slice(0, 100);
    sendError(
      res,
      new HttpError(417, 'expectation_failed', `Expect: ${expect} is not supported (only 100-continue)`, {
        connection: 'close',
      }),
    );
  });
  // Anyone who can reach the port may connect, token or not: cap the connections (their file
  // descriptors are the served switcher's too), and close one that sends nothing, which Node's
  // headersTimeout never does as it starts at the first byte. A socket timeout with no listener
  // makes Node's HTTP server destroy the socket; with this listener the server leaves it to us.
  // With a token the server makes room for a new connection by closing the oldest that has not
  // shown it (connections.ts), at once: Node's own cap is one above, to let the new one in to do
  // that (or be closed, when there is no such connection). Without a token nobody shows one, and
  // Node's cap closes new connections on arrival.
  const conns = auth.required ? new Connections(o.maxConnections) : null;
  server.maxConnections = conns === null ? o.maxConnections : o.maxConnections + 1;
  // Set, not left to Node, whose default is not stable (5 s, raised to 65 s by nodejs/node#62782):
  // every idle connection holds one of the maxConnections slots that long.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
  const crowd = new Crowd(registry, logger, o.maxConnections);
  // Node closed a new connection on arrival, over its own cap.
  server.on('drop', () => crowd.closed('full'));
  server.on('connection', (socket) => {
    socket.setTimeout(o.headersTimeout);
    if (conns === null) return;
    const made = conns.admit(socket);
    if (made === 'room') return;
    if (made === 'full') socket.destroy();
    crowd.closed(made === 'full' ? 'full' : 'evicted');
  });
  const lines = new WeakMap<Socket, Line>();
  // A request Node's parser refused (headers over MAX_HEADER_BYTES, not valid HTTP/1.1) or that
  // did not arrive in time: answered with the API's JSON error, not Node's bare status line.
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    answerClientError(err, socket, answerable(lines.get(socket)), logger);
  });
  server.on('timeout', (socket: Socket) => {
    // Silent before its first request, or idle past the keep-alive timeout: closed as before.
    if ((lines.get(socket)?.answering ?? null) !== null) {
      logger.warn(
        { remote: socket.remoteAddress, ms: o.headersTimeout },
        'admin connection closed: no progress on a request or its answer',
      );
    }
    socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = now();
    res.on('finish', () =>
      logger.debug(
        {
          method: req.method,
          path: req.url?.split('?')[0],
          status: res.statusCode,
          ms: Math.round(now() - started),
        },
        'admin request',
      ),
    );
    try {
      const target = req.url ?? '/';
      const url = requestUrl(target);
      hosts.check(req);
      const m = router.match(req.method ?? 'GET', rawPath(target));
      if (m.route.access !== 'public') {
        auth.check(req, url, m.route.access === 'token-or-query');
        conns?.trust(req.socket);
      }
      await m.route.handle({ req, res, url, params: m.params });
    } catch (err) {
      if (err instanceof HttpError) {
        sendError(res, err);
        return;
      }
      if (err instanceof RequestCutOff) {
        logger.debug({ path: req.url?.split('?')[0] }, 'admin request cut off by its client');
        res.destroy();
        return;
      }
      logger.error({ ...errorFields(err), path: req.url?.split('?')[0] }, 'admin handler failed');
      sendError(res, new HttpError(500, 'internal', 'internal error'));
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      clearInterval(sampler);
      crowd.close();
      panel.close();
      void hub.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen(o.port, o.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error(errorFields(err), 'admin server error'));

  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `http://${host}:${port}/`;
  logger.info({ url, mode: panel.mode, token: o.token !== undefined }, 'admin API listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    registry,
    setToken: (token) => {
      checkToken(token);
      // A token is rotated because it may have leaked: a stream opened with the old one would
      // otherwise go on receiving every snapshot until it ends by itself.
      const changed = auth.replace(token);
      if (changed) conns?.forget();
      if (changed && hub.size > 0) {
        logger.info(
          { streams: hub.size },
          'admin token replaced; ending the event streams opened with the old one',
        );
        void hub.endAll();
      }
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sampler);
        crowd.close();
        panel.close();
        // No new connections from here; those open are closed once the event streams have
        // ended. Closed at once, a compressed stream lost its gzip trailer (still in the
        // compressor) and every browser dashboard saw its stream fail instead of end. A reader
        // that does not read is not waited for beyond CLOSE_GRACE.
        server.close(() => resolve());
        void hub.close(CLOSE_GRACE).then(() => {
          server.closeAllConnections();
          logger.info({ url }, 'admin server closed');
        });
      });
      return closing;
    },
  };
}

/** Bytes of request line and headers a request may have; more is answered 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * ms an idle kept-alive connection stays open (the `Keep-Alive: timeout=5` it is told; Node
 * closes it a second later, so that a client's request sent just in time does not meet a reset).
 */
export const KEEP_ALIVE_TIMEOUT = 5_000;

/**
 * ms close() waits for the event streams it ended to go out (a gzip trailer) before it closes
 * the connections: a reader that stopped reading does not hold close() longer than this.
 */
export const CLOSE_GRACE = 1_000;

/** Requests a connection may have waiting behind the one being answered (pipelined). */
const MAX_WAITING = 16;

/** A connection's requests: the one being answered, and those that wait for it. */
interface Line {
  waiting: (() => void)[];
  /** The answer of the request being handled; null while none is. */
  answering: ServerResponse | null;
}

/**
 * Whether an error answer to the request Node failed to read would be read as its answer: no
 * request before it is unanswered, and the connection is not inside another answer. The failed
 * request is the one being handled when that one is still arriving (its body, a timeout); then
 * only until its own answer has started. A request pipelined behind unanswered ones is not: its
 * error would be taken for theirs.
 */
function answerable(line: Line | undefined): boolean {
  if (line === undefined || (line.answering === null && line.waiting.length === 0)) return true;
  const res = line.answering;
  return line.waiting.length === 0 && res !== null && !res.req.complete && !res.headersSent;
}

/**
 * The URL of a request target. An origin-form target is a path even when it starts with '//'
 * (RFC 9112 3.2.1), which a URL parser given it as a reference would read as a host and a shorter
 * path: '//x/api/v1/clients' would be served as /api/v1/clients, past a proxy rule that keeps
 * /api/ for some users. The absolute form names its own path; anything else (`*`) is resolved
 * against a placeholder origin.
 */
function requestUrl(target: string): URL {
  try {
    return target.startsWith('/')
      ? new URL(`http://admin.invalid${target}`)
      : new URL(target, 'http://admin.invalid');
  } catch {
    throw new HttpError(400, 'bad_request', 'the request target is not a valid URL');
  }
}

/**
 * The path to route on: the target's path as sent, not the URL's, whose parser removes dot
 * segments ('%2e%2e' too): '/x/../api/v1/clients' would be served as /api/v1/clients, past a
 * proxy that matches paths as sent (HAProxy does unless told to normalise). Browsers and curl
 * remove dot segments before sending, so a path that still holds one names no endpoint. The
 * absolute form ('http://host/x/../api/...', which a proxy may pass on as it came) is routed on
 * the path as sent after its authority; any other target ('*') names no endpoint.
 */
function rawPath(target: string): string {
  let path = target;
  if (!target.startsWith('/')) {
    const origin = ABSOLUTE_ORIGIN.exec(target);
    if (origin === null) return target;
    path = target.slice(origin[0].length);
  }
  const end = path.search(/[?#]/);
  const p = end < 0 ? path : path.slice(0, end);
  return p === '' ? '/' : p;
}

/** Scheme and authority of an absolute-form target, up to its path. */
const ABSOLUTE_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/** The server's routes; exported for the test that holds them against the OpenAPI document. */
export function buildRouter(panel: Panel, feed: Feed, files: StaticFiles, registry: Registry): Router {
  const router = new Router();
  const common: Route[] = [
    {
      method: 'GET',
      path: '/api/v1/info',
      access: 'token',
      handle: (c) => sendJson(c.res, 200, panel.info()),
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      access: 'token-or-query',
      handle: (c) => feed.open(c),
    },
    {
      method: 'GET',
      path: '/api/v1/openapi.json',
      access: 'public',
      handle: (c) => sendJson(c.res, 200, openapiDocument()),
    },
    {
      method: 'GET',
      path: '/metrics',
      access: 'token',
      handle: async (c) => {
        const text = await registry.metrics();
        c.res.writeHead(200, { ...baseHeaders, 'content-type': registry.contentType });
        c.res.end(text);
      },
    },
    {
      method: 'GET',
      path: '/healthz',
      access: 'public',
      // Liveness of what this serves, not of the HTTP server alone: after the switcher (or node)
      // closed, a probe that kept reading ok never restarted a process that serves nothing.
      handle: (c) => {
        const down = panel.down();
        if (down !== null) throw new HttpError(503, 'unavailable', down);
        sendJson(c.res, 200, { ok: true });
      },
    },
  ];
  const other = panel.mode === 'switcher' ? 'a node' : 'a switcher';
  // Each with its method: a kick sent to a node is answered 404 like the list, not 405.
  const foreign: Route[] = panel.foreign.map(([method, path]) => ({
    method,
    path,
    access: 'token',
    handle: () => {
      throw new HttpError(404, 'not_found', `${path} is served only for ${other}`);
    },
  }));
  const assets: Route[] = StaticFiles.paths.map((path) => ({
    method: 'GET',
    path,
    access: 'public',
    handle: (c) => files.serve(c.req, c.res, path),
  }));
  return router.add(...common, ...panel.routes, ...foreign, ...assets);
}
