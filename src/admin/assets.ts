import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../util/logger.js';
import { baseHeaders, HttpError } from './http.js';

/**
 * The dashboard's files: plain HTML, CSS and JS from src/admin/static/ (copied to
 * dist/admin/static/ by the build), and uPlot read from node_modules at runtime, never a CDN.
 * Everything is read once at start and served from memory with an ETag.
 */

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** What the page may load: only this origin, and no inline script or style sheet. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Where the page files are: next to this module in dist/, or in src/ of a source checkout. */
export function staticDir(): string | null {
  const candidates = [
    new URL('./static/', import.meta.url),
    new URL('../../src/admin/static/', import.meta.url),
  ];
  for (const dir of candidates) {
    const path = fileURLToPath(dir);
    if (existsSync(`${path}index.html`)) return path;
  }
  return null;
}

const PAGE_FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/table.js': ['table.js', 'text/javascript; charset=utf-8'],
  '/format.js': ['format.js', 'text/javascript; charset=utf-8'],
  '/modes.js': ['modes.js', 'text/javascript; charset=utf-8'],
  '/frame.js': ['frame.js', 'text/javascript; charset=utf-8'],
  '/axes.js': ['axes.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

const VENDOR_FILES: Record<string, [module: string, type: string]> = {
  '/vendor/uPlot.iife.min.js': ['uplot/dist/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
  '/vendor/uPlot.min.css': ['uplot/dist/uPlot.min.css', 'text/css; charset=utf-8'],
};

export class StaticFiles {
  private readonly assets = new Map<string, Asset>();
  private missing: string[] = [];

  /** The URL paths served. */
  static readonly paths: readonly string[] = [...Object.keys(PAGE_FILES), ...Object.keys(VENDOR_FILES)];

  async load(logger: Logger): Promise<void> {
    const dir = staticDir();
    const require = createRequire(import.meta.url);
    const jobs: Promise<void>[] = [];
    for (const [path, [file, type]] of Object.entries(PAGE_FILES)) {
      jobs.push(this.add(path, dir === null ? null : `${dir}${file}`, type));
    }
    for (const [path, [mod, type]] of Object.entries(VENDOR_FILES)) {
      let file: string | null = null;
      try {
        file = require.resolve(mod);
      } catch {
        file = null;
      }
      jobs.push(this.add(path, file, type));
    }
    await Promise.all(jobs);
    if (this.missing.length > 0) {
      logger.warn({ missing: this.missing }, 'admin dashboard files not found; the API works without them');
    }
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const a = this.assets.get(path);
    if (a === undefined) {
      throw new HttpError(404, 'not_found', `dashboard file ${path} is not installed (see docs/admin.md)`);
    }
    const headers: Record<string, string | number> = {
      ...baseHeaders,
      'cache-control': 'no-cache',
      etag: a.etag,
    };
    if (path === '/') headers['content-security-policy'] = CSP;
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': a.type, 'content-length': a.body.length });
    res.end(a.body);
  }

  private async add(path: string, file: string | null, type: string): Promise<void> {
    if (file === null) {
      this.missing.push(path);
      return;
    }
    try {
      const body = await readFile(file);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.assets.set(path, { body, type, etag });
    } catch {
      this.missing.push(path);
    }
  }
}
