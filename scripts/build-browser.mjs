#!/usr/bin/env node
/**
 * Builds the self-contained browser bundle dist/flexmux.browser.js (one ESM file, minified, with
 * a source map) from src/browser.ts, and copies the demo page's files to dist/demo/static/.
 * Runs after `tsc -p tsconfig.build.json`; fails if anything reachable imports a node:* module.
 *
 *   node scripts/build-browser.mjs [outdir]     (outdir defaults to dist)
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(await readFile(`${root}package.json`, 'utf8'));
const outdir = resolve(root, process.argv[2] ?? 'dist');
const outfile = `${outdir}/flexmux.browser.js`;

const result = await build({
  entryPoints: [`${root}src/browser.ts`],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'none',
  banner: { js: `/*! flexmux ${pkg.version} (browser bundle) | ${pkg.license} */` },
  logLevel: 'warning',
});

const nodeOnly = Object.keys(result.metafile.inputs).filter(
  (p) => p.startsWith('node:') || p.includes('node_modules/ws/'),
);
if (nodeOnly.length > 0) {
  console.error(`build-browser: node-only modules reached from src/browser.ts: ${nodeOnly.join(', ')}`);
  process.exit(1);
}

// Types for code that imports the bundle file itself: the same API as dist/browser.js. They
// resolve here, next to dist/browser.d.ts, not in a copy of the bundle (docs/browser.md says what
// to put beside one).
await writeFile(`${outdir}/flexmux.browser.d.ts`, "export * from './browser.js';\n");

// The demo page's files sit next to dist/demo/*.js, where src/demo/assets.ts looks for them.
await mkdir(`${outdir}/demo/static`, { recursive: true });
await cp(`${root}src/demo/static`, `${outdir}/demo/static`, { recursive: true });

const code = await readFile(outfile);
const gz = gzipSync(code, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`${relative(root, outfile)}: ${kb(code.length)} minified, ${kb(gz)} gzipped`);
