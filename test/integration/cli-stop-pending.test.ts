import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { killAll, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux switcher` stopped while a connection is still in admission: its log says the switcher
 * closed it, not that the peer hung up.
 */

vi.setConfig({ testTimeout: 60_000 });

afterEach(() => killAll());

/** The admin API's count of connections in admission, polled until it is `n` (bounded). */
async function untilPending(admin: string, n: number, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const info = (await (await fetch(`${admin}api/v1/info`)).json()) as {
      totals: { pendingAdmissions: number };
    };
    if (info.totals.pendingAdmissions === n) return;
    if (Date.now() > deadline) throw new Error(`pendingAdmissions did not reach ${n} within ${timeout} ms`);
    // A poll of state the switcher reports, not a wait standing in for it.
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('switcher stopped with a connection in admission', () => {
  it('logs the refusal as shutdown at info, not as a peer that closed', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
      FLEXMUX_PASSWORD: 'stop-pending',
    });
    const admin = String((await sw.child.waitForLog('admin API listening')).url);
    const [host, port] = sw.tcp.replace('tcp://', '').split(':');
    // Connected, and silent: held in admission until its timeout (10 s) or the stop.
    const socket = net.connect({ host, port: Number(port) });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await untilPending(admin, 1);
    sw.child.proc.kill('SIGTERM');
    expect(await sw.child.exited).toBe(0);
    await closed;
    const refusals = sw.child.logs.filter((l) => l.msg === 'admission refused');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 30, reason: 'shutdown', err: 'switcher is closing' });
  });
});
