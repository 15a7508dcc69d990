import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, openapiDocument, startAdmin } from '../../src/admin/index.js';
import { startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents, request } from './admin-http.js';

/**
 * Query parameters are read strictly: a second value of one (`?limit=5&limit=500`) used to be
 * dropped in favour of the first without a word, and `?delta=` took any value but `1` (`0`,
 * `true`) for "snapshots". Both are now a 400 whose JSON message names the parameter, as an
 * invalid value already was, and the OpenAPI document says so.
 */

const TOKEN = 'query-token-0123456789';

interface ApiError {
  error: { code: string; message: string };
}

describe('admin API query parameters', () => {
  let t: Traffic;
  let admin: AdminServer;
  const get = (path: string, o: { method?: string; token?: string | null } = {}) =>
    request(admin.url, path, {
      method: o.method,
      timeout: 5_000,
      token: o.token === null ? undefined : (o.token ?? TOKEN),
    });

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 50 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  const refused = async (path: string, name: string, o: { method?: string; token?: string | null } = {}) => {
    const r = await get(path, o);
    expect(r.status, path).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json as ApiError;
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message, path).toContain(name);
  };

  it('a parameter given twice is a 400 naming it, whichever endpoint takes it', async () => {
    await refused('/api/v1/clients?limit=5&limit=500', 'limit');
    await refused('/api/v1/clients?offset=0&offset=1', 'offset');
    await refused('/api/v1/clients?cursor=1&cursor=2', 'cursor');
    await refused('/api/v1/streams?domain=alice&domain=bob', 'domain');
    await refused('/api/v1/streams?limit=1&limit=1', 'limit');
    await refused('/api/v1/events?delta=1&delta=1', 'delta');
    await refused('/api/v1/events?access_token=a&access_token=b', 'access_token', { token: null });
    await refused('/api/v1/clients/bob?reason=a&reason=b', 'reason', { method: 'DELETE' });
    await refused('/api/v1/clients/bob?id=1&id=2', 'id', { method: 'DELETE' });
    // Nobody was kicked by the refused DELETEs.
    expect((await get('/api/v1/clients/bob')).status).toBe(200);
    // Once each, the same values are served.
    const page = await get('/api/v1/clients?limit=1');
    expect(page.status).toBe(200);
    expect((page.json as { clients: unknown[] }).clients).toHaveLength(1);
  });

  it('?delta= takes 1 only: 0, true and empty are a 400, absent gives snapshots', async () => {
    for (const v of ['0', 'true', '', 'yes']) await refused(`/api/v1/events?delta=${v}`, 'delta');
    const deltas = await collectEvents(admin.url, '/api/v1/events?delta=1', (e) => e.length >= 2, {
      token: TOKEN,
    });
    expect(deltas.map((e) => e.event).slice(0, 2)).toEqual(['hello', 'delta']);
    const full = await collectEvents(admin.url, '/api/v1/events', (e) => e.length >= 2, { token: TOKEN });
    expect(full.map((e) => e.event).slice(0, 2)).toEqual(['hello', 'snapshot']);
  });

  it('the OpenAPI document says the same', () => {
    const doc = openapiDocument() as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; schema: unknown }[];
            responses: Record<string, { description: string }>;
          }
        >
      >;
    };
    const events = doc.paths['/api/v1/events'].get;
    expect(events.responses['400']).toBeDefined();
    expect(events.parameters?.find((p) => p.name === 'delta')?.schema).toEqual({
      type: 'string',
      enum: ['1'],
    });
    // Every operation that takes a query parameter documents its 400, saying a repeat is one.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!(op.parameters ?? []).some((p) => (p as { in?: string }).in === 'query')) continue;
        expect(op.responses['400']?.description, `${method} ${path}`).toMatch(/more than once/);
      }
    }
  });
});
