import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/**
 * The demo page's files, read once and served from memory: the page itself (src/demo/static/,
 * copied to dist/demo/static/ by scripts/build-browser.mjs) and the browser bundle
 * (dist/flexmux.browser.js, or built from src/browser.ts in a source checkout).
 */

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface PageValues {
  /** Default WebSocket path of the switcher on this origin. */
  wsPath: string;
  /** Address of the Node-side echo service, '' if there is none. */
  echo: string;
  /** Whether GET peers.json answers with the connected domains. */
  listPeers: boolean;
}

const JS = 'text/javascript; charset=utf-8';

const PAGE_FILES: Record<string, [file: string, type: string]> = {
  '': ['index.html', 'text/html; charset=utf-8'],
  'demo.js': ['demo.js', JS],
  'demo.css': ['demo.css', 'text/css; charset=utf-8'],
};

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function firstExisting(candidates: URL[], file: string): string | null {
  for (const dir of candidates) {
    const path = fileURLToPath(dir);
    if (existsSync(`${path}${file}`)) return path;
  }
  return null;
}

const escapeAttr = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The bundle: given bytes, a source checkout's fresh build, or the one the build wrote. */
async function loadBundle(given: Uint8Array | string | undefined): Promise<Buffer> {
  if (given instanceof Uint8Array) return Buffer.from(given);
  if (typeof given === 'string') return readFile(given);
  const source = fileURLToPath(new URL('../browser.ts', import.meta.url));
  if (existsSync(source)) return bundleForBrowser(source);
  const built = fileURLToPath(new URL('../flexmux.browser.js', import.meta.url));
  if (existsSync(built)) return readFile(built);
  throw new ConfigError(`demo: no browser bundle at ${built}; run npm run build`);
}

/**
 * Bundles `entry` for browsers as scripts/build-browser.mjs does (one minified ESM file). Used
 * when running from src/ (tsx, tests), where esbuild, a devDependency, is installed.
 */
export async function bundleForBrowser(entry: string): Promise<Buffer> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return Buffer.from(out.outputFiles[0].contents);
}

/** Loads every file of the page; relative URL path ('' is the page) -> asset. */
export async function loadDemoAssets(
  values: PageValues,
  bundle?: Uint8Array | string,
): Promise<Map<string, Asset>> {
  const dir = firstExisting(
    [new URL('./static/', import.meta.url), new URL('../../src/demo/static/', import.meta.url)],
    'index.html',
  );
  if (dir === null) throw new ConfigError('demo: the page files (demo/static/index.html) are missing');
  const assets = new Map<string, Asset>();
  for (const [path, [file, type]] of Object.entries(PAGE_FILES)) {
    let body = await readFile(`${dir}${file}`);
    if (file === 'index.html') {
      const html = body
        .toString('utf8')
        .replaceAll('{{wsPath}}', escapeAttr(values.wsPath))
        .replaceAll('{{echo}}', escapeAttr(values.echo))
        .replaceAll('{{listPeers}}', values.listPeers ? 'true' : 'false');
      body = Buffer.from(html, 'utf8');
    }
    assets.set(path, asset(body, type));
  }
  assets.set('flexmux.browser.js', asset(await loadBundle(bundle), JS));
  return assets;
}
