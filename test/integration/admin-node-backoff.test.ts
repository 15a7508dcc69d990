import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/index.js';
import { memorySessionTo } from '../helpers/sessions.js';
import { parseMetrics } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * A node's admin while its session waits to reconnect: the session keeps its listeners (the next
 * connection serves them), and the admin shows them, not an empty list read off no connection.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("a node's admin during its session's reconnect backoff", () => {
  it('lists the listeners the session keeps', async () => {
    const sw = new Switcher({ password: 'x' });
    cleanups.push(() => sw.close());
    const session = memorySessionTo(sw, {
      password: 'x',
      domain: 'alice',
      // Long enough that the checks below all run inside the backoff.
      backoffInitial: 60_000,
      reconnectSpread: 0,
    });
    session.on('disconnect', () => {});
    cleanups.push(() => session.close());
    await session.ready({ timeout: 5_000 });
    session.listen(7);
    session.listen(9);
    const admin: AdminServer = await startAdmin({ node: session, port: 0, pingInterval: 0 });
    cleanups.push(() => admin.close());
    const want = [{ port: 7 }, { port: 9 }];
    expect((await request(admin.url, '/api/v1/listeners')).json).toEqual({ listeners: want });

    const backoff = new Promise<void>((r) => session.on('state', (s) => s === 'backoff' && r()));
    sw.kick('alice');
    await backoff;
    expect(session.state).toBe('backoff');
    expect((await request(admin.url, '/api/v1/listeners')).json).toEqual({ listeners: want });
    const info = (await request(admin.url, '/api/v1/info')).json as {
      listeners: number[];
      totals: { connected: boolean; listeners: number };
    };
    expect(info.listeners).toEqual([7, 9]);
    expect(info.totals).toMatchObject({ connected: false, listeners: 2 });
    const metrics = parseMetrics((await request(admin.url, '/metrics')).text);
    expect(metrics.get('flexmux_node_listeners')).toBe(2);
    expect(session.state).toBe('backoff');
  });
});
