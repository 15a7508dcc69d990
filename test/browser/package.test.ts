import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * How the browser build reaches users: export conditions pick dist/browser.js for bundlers that
 * target browsers, and scripts/build-browser.mjs writes the single-file bundle for script tags.
 */

// A file path, not URL.pathname: that one is percent-encoded (a space in the checkout's path is %20).
const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
/** Size budget of the bundle, minified and gzipped (the 40 KB). */
const BUDGET = 40 * 1024;

describe('package export conditions', () => {
  let dir: string;

  beforeAll(async () => {
    // A consumer project holding a copy of our package.json and marker files in place of dist/.
    dir = await mkdtemp(join(tmpdir(), 'flexmux-exports-'));
    const pkg = join(dir, 'node_modules', 'flexmux');
    await mkdir(join(pkg, 'dist'), { recursive: true });
    await cp(join(root, 'package.json'), join(pkg, 'package.json'));
    await writeFile(join(pkg, 'dist', 'browser.js'), "export const build = 'browser';\n");
    await writeFile(join(pkg, 'dist', 'index.js'), "export const build = 'node';\n");
    await writeFile(join(dir, 'app.js'), "import { build } from 'flexmux';\nexport { build };\n");
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function resolvedFor(platform: 'browser' | 'node'): Promise<string[]> {
    const r = await build({
      entryPoints: [join(dir, 'app.js')],
      absWorkingDir: dir,
      bundle: true,
      platform,
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    return Object.keys(r.metafile.inputs).filter((p) => p.includes('node_modules/flexmux/'));
  }

  it('a bundler targeting browsers gets dist/browser.js', async () => {
    expect(await resolvedFor('browser')).toEqual(['node_modules/flexmux/dist/browser.js']);
  });

  it('Node.js and bundlers targeting Node get dist/index.js', async () => {
    expect(await resolvedFor('node')).toEqual(['node_modules/flexmux/dist/index.js']);
    expect(createRequire(join(dir, 'app.js')).resolve('flexmux')).toBe(
      join(dir, 'node_modules/flexmux/dist/index.js'),
    );
  });

  it('dist/browser.js is what tsc makes of src/browser.ts', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string>>;
    };
    const tsconfig = JSON.parse(await readFile(join(root, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(pkg.exports['.'].browser).toBe('./dist/browser.js');
    expect(pkg.exports['./browser'].default).toBe('./dist/browser.js');
  });
});

describe('scripts/build-browser.mjs', () => {
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'flexmux-bundle-'));
  });

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('writes one self-contained ESM file within the size budget, its types and the demo files', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'scripts/build-browser.mjs'), out], {
      timeout: 30_000,
    });
    const code = await readFile(join(out, 'flexmux.browser.js'), 'utf8');
    const gz = gzipSync(code, { level: 9 }).length;
    expect(stdout).toMatch(/flexmux\.browser\.js: [\d.]+ KiB minified, [\d.]+ KiB gzipped/);
    expect(gz).toBeLessThan(BUDGET);
    expect(code.startsWith('/*! flexmux ')).toBe(true);
    expect(code).toContain('sourceMappingURL=flexmux.browser.js.map');
    // Self-contained: no imports left, no Node.js built-ins, no require.
    expect(code).not.toMatch(/\bimport\s*[{*\w][^;]*\bfrom\s*["']/);
    expect(code).not.toMatch(/["']node:|\brequire\(/);
    expect(code).toMatch(/export\s*\{[^}]*\bconnect\b/);
    // Error classes carry their names as strings, so minification cannot rename them.
    expect(code).toContain('"StreamResetError"');
    expect(await readFile(join(out, 'flexmux.browser.d.ts'), 'utf8')).toBe("export * from './browser.js';\n");
    expect(await readFile(join(out, 'demo/static/index.html'), 'utf8')).toContain('demo.js');
  });
});
