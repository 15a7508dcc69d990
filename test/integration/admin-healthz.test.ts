import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { Switcher } from '../../src/switcher/index.js';
import { memorySessionTo } from '../helpers/sessions.js';
import { request } from './admin-http.js';

/**
 * /healthz is the liveness of what the admin serves: ok while the switcher (or session) runs,
 * 503 with the reason once it is closing or closed, though the admin server itself still answers.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('/healthz', () => {
  it('answers 503 once the switcher it serves has closed', async () => {
    const sw = new Switcher({ password: 'x' });
    cleanups.push(() => sw.close());
    const admin: AdminServer = await startAdmin({ switcher: sw, port: 0 });
    cleanups.push(() => admin.close());
    const up = await request(admin.url, '/healthz');
    expect(up.status).toBe(200);
    expect(up.json).toEqual({ ok: true });
    await sw.close();
    const down = await request(admin.url, '/healthz');
    expect(down.status).toBe(503);
    expect(down.json).toEqual({ error: { code: 'unavailable', message: 'the switcher is closed' } });
  });

  it('answers 503 once the session it serves has closed, ok while it is between connections', async () => {
    const sw = new Switcher({ password: 'x' });
    cleanups.push(() => sw.close());
    const session = memorySessionTo(sw, {
      password: 'x',
      domain: 'alice',
      backoffInitial: 60_000,
    });
    session.on('disconnect', () => {});
    cleanups.push(() => session.close());
    await session.ready({ timeout: 5_000 });
    const admin: AdminServer = await startAdmin({ node: session, port: 0 });
    cleanups.push(() => admin.close());
    expect((await request(admin.url, '/healthz')).status).toBe(200);
    // Kicked: the session waits to reconnect, alive.
    const backoff = new Promise<void>((r) => session.on('state', (s) => s === 'backoff' && r()));
    sw.kick('alice');
    await backoff;
    expect((await request(admin.url, '/healthz')).status).toBe(200);
    await session.close();
    const down = await request(admin.url, '/healthz');
    expect(down.status).toBe(503);
    expect(down.json).toEqual({ error: { code: 'unavailable', message: 'the session is closed' } });
  });
});
