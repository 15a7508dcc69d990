import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode } from '../../helpers/bundle.js';

/**
 * `ws` loads on first use (src/transport/ws.ts): a program that imports flexmux for TCP or the
 * switcher core does not pay for it. Checked in a child process, since this worker's own module
 * cache already holds `ws` from other tests. The main entry is bundled (bundleForNode) so the child
 * needs no tsc build.
 */

// A file path, not URL.pathname: that one is percent-encoded (a space in the checkout's path is %20).
const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = join(root, 'test-results', `ws-lazy-${process.pid}`);
const bundle = join(dir, 'index.mjs');
const run = promisify(execFile);

/** Imports the bundle, runs `then` (an expression over its exports `m`), prints what is loaded. */
async function loadedAfter(then: string): Promise<{ ws: boolean; result: string }> {
  const script = `
    import { createRequire } from 'node:module';
    const m = await import(${JSON.stringify(bundle)});
    const result = String(await (${then}));
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ ws: cache.some((k) => /[\\\\/]node_modules[\\\\/]ws[\\\\/]/.test(k)), result }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    timeout: 20_000,
  });
  return JSON.parse(stdout) as { ws: boolean; result: string };
}

describe('ws is loaded lazily', () => {
  beforeAll(async () => {
    await mkdir(dir, { recursive: true });
    bundleForNode(join(root, 'src/index.ts'), bundle);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('importing the main entry does not load ws', async () => {
    const r = await loadedAfter('typeof m.Node');
    expect(r.result).toBe('function');
    expect(r.ws).toBe(false);
  });

  it('the first WebSocket call loads it', async () => {
    // A listener on an ephemeral loopback port needs the ws server; it is closed at once.
    const r = await loadedAfter(
      "m.listenWs({ host: '127.0.0.1', port: 0 }, () => {}).then(async (l) => { await l.close(); return l.address.port > 0; })",
    );
    expect(r.result).toBe('true');
    expect(r.ws).toBe(true);
  });
});
