import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, ROOT, runCli } from '../helpers/cli.js';
import { parseMetrics } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * A switcher whose log cannot be written any more when SIGHUP comes: its reader went away (EPIPE),
 * or the disk it goes to filled up (ENOSPC). A reload reads files, not the log: it must run, and
 * the process live on, its outcome in /metrics. Before, the SIGHUP handler took any failure of
 * the `reloading` line as the hang-up of a terminal and ended the process with 129.
 */

vi.setConfig({ testTimeout: 60_000 });
afterEach(() => killAll());

const PRELOAD = pathToFileURL(join(ROOT, 'test/helpers/full-stderr.mjs')).href;

/** The switcher's reload counters, as its admin server gives them. */
async function reloads(url: string): Promise<{ ok?: number; failed?: number }> {
  const r = await request(url, '/metrics');
  const m = parseMetrics(r.text);
  return {
    ok: m.get('flexmux_reloads_total{result="ok"}'),
    failed: m.get('flexmux_reloads_total{result="failed"}'),
  };
}

/** Resolves once a reload has been counted (polled: the log that would say so is gone). */
async function counted(url: string): Promise<{ ok?: number; failed?: number }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await reloads(url);
    if ((r.ok ?? 0) + (r.failed ?? 0) > 0 || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startSwitcher(): Promise<{ child: CliChild; admin: string }> {
  const child = runCli(['switcher', '--tcp', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
    env: { FLEXMUX_PASSWORD: 'p', NODE_OPTIONS: `--import=${PRELOAD}` },
  });
  const { url } = await child.waitForLog('admin API listening');
  await child.waitForLog('switcher ready');
  return { child, admin: String(url) };
}

describe.skipIf(process.platform === 'win32')('flexmux switcher on SIGHUP, its log unwritable', () => {
  it('reloads when the log pipe is closed (EPIPE)', async () => {
    const { child, admin } = await startSwitcher();
    child.proc.stderr?.destroy();
    child.proc.kill('SIGHUP');
    expect(await counted(admin)).toEqual({ ok: 1, failed: 0 });
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });

  it('reloads when the log cannot be written (ENOSPC), and logs again once it can', async () => {
    const { child, admin } = await startSwitcher();
    let mark = child.logs.length;
    child.proc.kill('SIGUSR2');
    await child.nextLog('test: stderr full', { after: mark });
    child.proc.kill('SIGHUP');
    expect(await counted(admin)).toEqual({ ok: 1, failed: 0 });
    mark = child.logs.length;
    child.proc.kill('SIGUSR2');
    await child.nextLog('test: stderr writable', { after: mark });
    mark = child.logs.length;
    child.proc.kill('SIGTERM');
    await child.nextLog('switcher closed', { after: mark });
    expect(await child.exited).toBe(0);
    // The lines held back while stderr was full, written once it took them again.
    expect(child.logs.slice(mark).map((l) => l.msg)).toContain('reloaded');
  });
});
