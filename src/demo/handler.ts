import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '../errors.js';
import type { FlexStream } from '../face/duplex.js';
import type { Session } from '../node/session.js';
import type { Switcher } from '../switcher/switcher.js';
import { checkSwitcher } from '../switcher-node.js';
import { transportDefaults } from '../transport/defaults.js';
import { requestPath } from '../transport/handshakes.js';
import { checkOptions } from '../util/check.js';
import { type Asset, loadDemoAssets } from './assets.js';
import { startEchoNode } from './echo.js';

/**
 * The browser demo (node-only): one page plus the browser bundle over plain HTTP, meant to sit on
 * the same http.Server as the switcher's WebSocket upgrade so the page's default switcher URL is
 * its own origin. The page registers a browser node, pings peers, chats on port 5 and opens a
 * terminal to the in-process echo node.
 */

export interface DemoOptions {
  /** URL path the page is served at, starting and ending with '/'. Default '/'. */
  base?: string;
  /** The switcher's WebSocket path on the same origin, the form's default. Default '/flex/ws'. */
  wsPath?: string;
  /** Domain of an in-process echo node the handler runs, or false for none. Default 'echo'. */
  echo?: string | false;
  /** Port the echo node serves. Default 7. */
  echoPort?: number;
  /** Answer GET `${base}peers.json` with the connected domains (no password asked). Default false. */
  listPeers?: boolean;
  /** The browser bundle, as bytes or a file path. Default: dist/flexmux.browser.js, or a fresh build in a source checkout. */
  bundle?: Uint8Array | string;
}

export interface DemoHandler {
  /** Serves a request for one of the demo's paths; returns false, touching nothing, for any other. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The echo node's session, if the handler runs one. */
  readonly echo: Session<FlexStream> | null;
  /** Stops the echo node; later requests get 503. Also runs when the switcher starts closing. */
  close(): Promise<void>;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  // The form lets the user point the page at any switcher, not only this origin's.
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function checkPath(name: string, v: string): void {
  if (typeof v !== 'string' || !v.startsWith('/')) throw new ConfigError(`demo ${name} must start with '/'`);
}

/**
 * Loads the page and the bundle (so a missing file fails here, at start) and starts the echo node.
 * Mount the result next to the switcher's upgrade handler:
 *
 *   server.on('request', (req, res) => { if (!demo.handle(req, res)) { res.statusCode = 404; res.end(); } });
 */
export async function demoHandler(switcher: Switcher, options: DemoOptions = {}): Promise<DemoHandler> {
  checkOptions('demoHandler()', options);
  checkSwitcher('demoHandler()', switcher);
  const base = options.base ?? '/';
  checkPath('base', base);
  if (!base.endsWith('/')) throw new ConfigError("demo base must end with '/'");
  const wsPath = options.wsPath ?? transportDefaults.wsPath;
  checkPath('wsPath', wsPath);
  const echoPort = options.echoPort ?? 7;
  if (!Number.isInteger(echoPort) || echoPort < 1 || echoPort > 65535) {
    throw new ConfigError(`demo echoPort must be an integer in 1..65535, got ${echoPort}`);
  }
  const echoDomain = options.echo ?? 'echo';
  const listPeers = options.listPeers ?? false;
  if (switcher.state !== 'open') throw new ConfigError('the switcher is closed');

  const assets = await loadDemoAssets(
    { wsPath, echo: echoDomain === false ? '' : `${echoDomain}:${echoPort}`, listPeers },
    options.bundle,
  );
  const echo = echoDomain === false ? null : startEchoNode(switcher, echoDomain, echoPort);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    switcher.off('closing', onClosing);
    await echo?.close();
  };
  const onClosing = (): void => {
    void close();
  };
  switcher.on('closing', onClosing);

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    // A target in absolute form (GET http://host/, from a proxy) asks for its path too.
    const path = requestPath(req);
    if (path === base.slice(0, -1) && base !== '/') {
      res.writeHead(301, { location: base }).end();
      return true;
    }
    if (!path.startsWith(base)) return false;
    const rel = path.slice(base.length);
    const isPeers = listPeers && rel === 'peers.json';
    const a = rel === 'index.html' ? assets.get('') : assets.get(rel);
    if (a === undefined && !isPeers) return false;
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-cache');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    if (closed || switcher.state !== 'open') {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('the switcher is closing\n');
      return true;
    }
    if (isPeers) {
      const peers = switcher.clients().map((c) => c.domain);
      send(req, res, { body: Buffer.from(JSON.stringify({ peers })), type: 'application/json', etag: '' });
      return true;
    }
    if (rel === '' || rel === 'index.html') res.setHeader('content-security-policy', CSP);
    send(req, res, a!);
    return true;
  };
  return { handle, echo, close };
}

function send(req: IncomingMessage, res: ServerResponse, a: Asset): void {
  if (a.etag !== '') {
    res.setHeader('etag', a.etag);
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304).end();
      return;
    }
  }
  res.writeHead(200, { 'content-type': a.type, 'content-length': a.body.length });
  res.end(req.method === 'HEAD' ? undefined : a.body);
}
