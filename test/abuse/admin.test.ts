import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../src/admin/index.js';
import { ConfigError, Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { request } from '../integration/admin-http.js';

/**
 * The admin API of a switcher under attack: without its token nothing is readable and nothing
 * can be kicked, however many guesses are made; without a token configured it answers only to
 * loopback names (no DNS rebinding) and refuses to listen beyond loopback.
 */

const PASSWORD = 'abuse-admin';
const TOKEN = 'admin-token-1f0c5a9e7d';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function switcherWithClient() {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const [a, b] = memoryPair();
  sw.handle(b);
  const { ip, transport } = await admit(a, { password: PASSWORD, domain: 'holder' });
  const n = new Node(transport, { ip, domain: 'holder', heartbeatInterval: 0 });
  cleanups.push(() => n.destroy());
  return { sw, n };
}

describe('admin API abuse', () => {
  it('without the token: 401 on every API route and /metrics, however many guesses; no kick', async () => {
    const { sw, n } = await switcherWithClient();
    const log = captureLogger();
    const admin = await startAdmin({
      switcher: sw,
      port: 0,
      token: TOKEN,
      logger: log,
      sampleInterval: 1_000,
    });
    cleanups.push(() => admin.close());
    const routes: [string, string][] = [
      ['GET', '/api/v1/info'],
      ['GET', '/api/v1/clients'],
      ['GET', '/api/v1/clients/holder'],
      ['DELETE', '/api/v1/clients/holder'],
      ['GET', '/api/v1/streams'],
      ['GET', '/metrics'],
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 50; i++) {
      await Promise.all(
        routes.map(async ([method, path]) => {
          // No token, a wrong token, a token that only shares a prefix, and the token in the query.
          const guesses = [undefined, `guess-${i}`, TOKEN.slice(0, -1), `${TOKEN}x`];
          for (const token of guesses) {
            const r = await request(admin.url, path, { method, token });
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          }
          const q = await request(admin.url, `${path}?access_token=${TOKEN}`, { method });
          statuses.set(q.status, (statuses.get(q.status) ?? 0) + 1);
        }),
      );
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 50 * routes.length * 5 });
    expect(sw.client('holder')).toBeDefined();
    expect(n.closed).toBe(false);
    expect(log.find('admin request', { status: 401 })).toHaveLength(50 * routes.length * 5);
    // The right token still works, and the server is still up after the guessing.
    expect((await request(admin.url, '/api/v1/clients', { token: TOKEN })).status).toBe(200);
    expect((await request(admin.url, '/healthz')).status).toBe(200);
  });

  it('without a token configured: loopback names only (no DNS rebinding), and no remote listening', async () => {
    const { sw } = await switcherWithClient();
    const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 1_000 });
    cleanups.push(() => admin.close());
    const rebound = await request(admin.url, '/api/v1/clients', { headers: { host: 'evil.example:7090' } });
    expect(rebound.status).toBe(403);
    const local = await request(admin.url, '/api/v1/clients', {
      headers: { host: `localhost:${admin.port}` },
    });
    expect(local.status).toBe(200);
    await expect(startAdmin({ switcher: sw, port: 0, host: '0.0.0.0' })).rejects.toBeInstanceOf(ConfigError);
  });
});
