import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** Size budget of the browser build, minified and gzipped (issue: 40 KB). */
const BUDGET = 40 * 1024;

describe('browser build', () => {
  it('bundles for the browser platform without any node:* module, within the size budget', async () => {
    const result = await build({
      entryPoints: [new URL('../../src/browser.ts', import.meta.url).pathname],
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
