import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Size budget of the browser build, minified and gzipped (issue: 40 KB). */
const BUDGET = 40 * 1024;

describe('browser build', () => {
  it('bundles for the browser platform without any node:* module, within the size budget', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../../src/browser.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.startsWith('node:') || p.includes('node_modules/ws/'))).toBe(false);
    expect(inputs.some((p) => p.endsWith('src/face/duplex.ts') || p.endsWith('src/transport/tcp.ts'))).toBe(
      false,
    );
    const code = result.outputFiles[0]!.contents;
    const gz = gzipSync(code, { level: 9 }).length;
    expect(gz).toBeLessThan(BUDGET);
  });
});

describe('postbuild', () => {
  it('runs the browser build from a checkout whose path has a space in it', () => {
    // A stand-in checkout: the real postbuild script, a static folder, and a build-browser stub
    // that only leaves a mark, so the test checks how the script is found, not esbuild.
    const root = mkdtempSync(join(tmpdir(), 'flexmux build '));
    try {
      mkdirSync(join(root, 'scripts'));
      mkdirSync(join(root, 'src/admin/static'), { recursive: true });
      copyFileSync(
        fileURLToPath(new URL('../../scripts/postbuild.mjs', import.meta.url)),
        join(root, 'scripts/postbuild.mjs'),
      );
      writeFileSync(
        join(root, 'scripts/build-browser.mjs'),
        "import { writeFileSync } from 'node:fs';\nwriteFileSync(new URL('../ran', import.meta.url), '');\n",
      );
      const r = spawnSync(process.execPath, [join(root, 'scripts/postbuild.mjs')], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(existsSync(join(root, 'ran'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
