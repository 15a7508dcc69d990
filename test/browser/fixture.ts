import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { bundleForBrowser } from '../../src/demo/assets.js';
import type { SwitcherOptions } from '../../src/switcher/config.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { upgradeHandler } from '../../src/switcher-node.js';

/**
 * What the browser tests serve: the browser bundle built from src/browser.ts (as
 * scripts/build-browser.mjs builds it), a test page, and a switcher's WebSocket upgrade at
 * /flex/ws on the same 127.0.0.1 origin.
 */

// A file path, not URL.pathname: that one is percent-encoded (a space in the checkout's path is %20).
const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The single-file ESM browser bundle, minified like dist/flexmux.browser.js: class names are
 * mangled, as an application's production build would mangle them.
 */
export async function buildBundle(): Promise<Uint8Array> {
  return bundleForBrowser(`${root}src/browser.ts`);
}

/** The page side of the tests, importing the library from /flexmux.browser.js at run time. */
export async function buildHarness(): Promise<Uint8Array> {
  const external: Plugin = {
    name: 'flexmux-bundle-external',
    setup(b) {
      b.onResolve({ filter: /\/src\/browser\.js$/ }, () => ({
        path: './flexmux.browser.js',
        external: true,
      }));
    },
  };
  const out = await build({
    entryPoints: [`${root}test/browser/harness/page.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    plugins: [external],
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.contents;
}

const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>flexmux browser tests</title><link rel="icon" href="data:,">
<script type="module" src="harness.js"></script></head><body></body></html>`;

export interface Served {
  body: Uint8Array | string;
  type: string;
}

export interface BrowserServer {
  switcher: Switcher;
  server: http.Server;
  /** http://127.0.0.1:port */
  origin: string;
  /** ws://127.0.0.1:port/flex/ws */
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * An http.Server on 127.0.0.1:0 carrying a switcher's upgrade at /flex/ws and `routes` (path ->
 * file); `handle` may serve other paths first (the demo handler).
 */
export async function startServer(
  routes: Record<string, Served>,
  options: {
    switcher?: Partial<SwitcherOptions>;
    handle?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  } = {},
): Promise<BrowserServer> {
  const switcher = new Switcher({ password: 'browser-secret', ...options.switcher });
  const upgrade = upgradeHandler(switcher);
  const server = http.createServer((req, res) => {
    if (options.handle?.(req, res)) return;
    const r = routes[(req.url ?? '/').split('?')[0]];
    if (r === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' }).end(r.body);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!upgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    switcher,
    server,
    origin: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/flex/ws`,
    close: async () => {
      await switcher.close({ timeout: 2_000 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The routes of the harness page under `dir` ('/' or '/x/'): the page, the bundle, the harness. */
export async function harnessRoutes(dir = '/'): Promise<Record<string, Served>> {
  const [bundle, harness] = await Promise.all([buildBundle(), buildHarness()]);
  const js = 'text/javascript; charset=utf-8';
  return {
    [dir]: { body: TEST_PAGE, type: 'text/html; charset=utf-8' },
    [`${dir}flexmux.browser.js`]: { body: bundle, type: js },
    [`${dir}harness.js`]: { body: harness, type: js },
  };
}
