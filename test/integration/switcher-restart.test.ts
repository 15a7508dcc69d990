import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import type { FlexStream, NodeSession } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';
import { nextEvent } from '../helpers/faulty-streams.js';

/**
 * What nodes see when their switcher goes away and comes back: how their streams fail, when they
 * reconnect, and what they are told about why.
 */

const PASSWORD = 'switcher-restart';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tcpSwitcher(): Promise<{ sw: Switcher; url: string }> {
  const sw = new Switcher({ password: PASSWORD });
  const l = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
  cleanups.push(() => sw.close({ timeout: 100 }));
  return { sw, url: `tcp://127.0.0.1:${l.address.port}` };
}

function session(url: string, domain: string): NodeSession {
  const s = connect(url, { password: PASSWORD, domain, heartbeatInterval: 0, backoffInitial: 5_000 });
  cleanups.push(() => s.close());
  return s;
}

/** The error a stream fails with (or 'clean end' if it ends without one). */
function failure(s: FlexStream): Promise<string> {
  return new Promise((resolve) => {
    s.on('error', (e) => resolve(e.message));
    s.on('close', () => resolve('clean end'));
    s.resume();
  });
}

describe('a switcher that shuts down gracefully', () => {
  it('does not tell the nodes that the other end of their streams left', async () => {
    const { sw, url } = await tcpSwitcher();
    const a = session(url, 'a');
    const b = session(url, 'b');
    const accepted: Promise<string>[] = [];
    b.listen(7).on('stream', (s: FlexStream) => accepted.push(failure(s)));
    await Promise.all([a.ready(), b.ready()]);
    const dialled = [failure(await a.dial('b:7')), failure(await a.dial('b:7'))];
    await expect.poll(() => accepted.length).toBe(2);
    const lost = Promise.all([nextEvent(a, 'disconnect'), nextEvent(b, 'disconnect')]);
    await sw.close({ timeout: 1_000 });
    await lost;
    const all = await Promise.all([...dialled, ...accepted]);
    // Every end fails (none ends cleanly). Before, the ends the switcher reset on its way out
    // were told 'the other end left the switcher': a node that stayed, and a process that was
    // still there, blamed for the switcher's own shutdown.
    expect(all).not.toContain('clean end');
    expect(all.filter((m) => m.includes('left the switcher'))).toEqual([]);
    expect(all.filter((m) => m.includes('code 4'))).not.toEqual([]);
    for (const m of all.filter((x) => x.includes('code 4'))) expect(m).toContain('switcher is shutting down');
  });
});
