import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, ROOT, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
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

/** Resolves once the child's stderr, from offset `from`, shows `text` (a readable line, not JSON). */
function stderrShows(child: CliChild, text: string, from = 0): Promise<void> {
  const seen = (): boolean => child.stderr.slice(from).includes(text);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.proc.stderr?.off('data', onData);
      child.proc.off('close', onData);
    };
    // Registered after runCli's own listener: child.stderr holds the chunk when this runs.
    const onData = (): void => {
      if (seen()) {
        done();
        resolve();
      } else if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
        done();
        reject(new Error(`exited before "${text}" on stderr:\n${child.stderr}`));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${text}" on stderr:\n${child.stderr}`));
    }, 30_000);
    child.proc.stderr?.on('data', onData);
    child.proc.on('close', onData);
    onData();
  });
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

  it('logs again once it can with --log-format pretty too, the lines held back written', async () => {
    const port = await freePort();
    const admin = `http://127.0.0.1:${port}`;
    const child = runCli(
      ['switcher', '--tcp', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`, '--log-format', 'pretty'],
      { env: { FLEXMUX_PASSWORD: 'p', NODE_OPTIONS: `--import=${PRELOAD}` } },
    );
    await stderrShows(child, 'switcher ready');
    let mark = child.logs.length;
    child.proc.kill('SIGUSR2');
    await child.nextLog('test: stderr full', { after: mark });
    child.proc.kill('SIGHUP');
    expect(await counted(admin)).toEqual({ ok: 1, failed: 0 });
    mark = child.logs.length;
    child.proc.kill('SIGUSR2');
    await child.nextLog('test: stderr writable', { after: mark });
    const from = child.stderr.indexOf('test: stderr writable');
    child.proc.kill('SIGTERM');
    await stderrShows(child, 'switcher closed', from);
    expect(await child.exited).toBe(0);
    // Held back while stderr was full, then written, readable, before what came after.
    const after = child.stderr.slice(from);
    expect(after).toMatch(/INFO.*reloaded/);
    expect(after.indexOf('reloaded')).toBeLessThan(after.indexOf('switcher closed'));
    expect(after).not.toMatch(/^\{"level":30,"time"/m);
  });
});
