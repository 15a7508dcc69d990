import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, openapiDocument, startAdmin } from '../../src/admin/index.js';
import { schemaErrors } from '../helpers/json-schema.js';
import { eventually, startTraffic, type Traffic } from './admin-fixture.js';
import { type Reply, request } from './admin-http.js';

/**
 * Real answers of a running admin server against the OpenAPI document it serves: each answer's
 * status is one the operation lists, its content type the one described, and its body meets the
 * schema, with no field the schema does not describe (test/helpers/json-schema.ts). The unit test
 * (test/unit/admin/openapi.test.ts) checks the routes; this checks what they send.
 */

type Schema = Record<string, unknown>;

const TOKEN = 'openapi-token-0123456789';

/** Checks `r`, the answer of `method path` (a path of the document, `{domain}` and all). */
async function conforms(doc: Schema, method: string, path: string, r: Reply): Promise<void> {
  const item = (doc.paths as Record<string, Record<string, Schema>>)[path];
  const op = item?.[method.toLowerCase()] as { responses: Record<string, Schema> } | undefined;
  expect(op, `${method} ${path} documented`).toBeDefined();
  const response = op?.responses[String(r.status)];
  expect(
    response,
    `${method} ${path}: status ${r.status} documented (${r.text.slice(0, 200)})`,
  ).toBeDefined();
  const content = response?.content as Record<string, { schema?: Schema }> | undefined;
  const [type, media] = Object.entries(content ?? {})[0] ?? [];
  if (type === undefined) return;
  expect(r.headers['content-type']?.split(';')[0], `${method} ${path} ${r.status}`).toBe(type);
  if (media?.schema === undefined) return;
  expect(schemaErrors(doc, media.schema, r.json), `${method} ${path} ${r.status}`).toEqual([]);
}

describe('admin answers meet the OpenAPI document', () => {
  let t: Traffic;
  let sw: AdminServer;
  let node: AdminServer;
  let doc: Schema;

  beforeAll(async () => {
    t = await startTraffic({ switcher: { pingInterval: 50 } });
    sw = await startAdmin({ switcher: t.sw, port: 0, token: TOKEN, sampleInterval: 50 });
    node = await startAdmin({ node: t.bob, port: 0, sampleInterval: 50, pingInterval: 50 });
    doc = (await request(sw.url, '/api/v1/openapi.json')).json as Schema;
  });

  afterAll(async () => {
    await sw?.close();
    await node?.close();
    await t?.close();
  });

  it('serves the document it is checked against', () => {
    expect(doc).toEqual(openapiDocument());
  });

  it('switcher: info, clients, one client, streams, healthz', async () => {
    const get = (path: string) => request(sw.url, path, { token: TOKEN });
    // Once the clients have rates and an RTT, so that no field is checked only as 0 or null.
    await eventually(async () => {
      const r = await get('/api/v1/clients');
      const list = (r.json as { clients: { rateIn: number; rttMs: number | null }[] }).clients;
      expect(list.every((c) => c.rateIn > 0 && c.rttMs !== null)).toBe(true);
    });
    await conforms(doc, 'GET', '/api/v1/info', await get('/api/v1/info'));
    await conforms(doc, 'GET', '/api/v1/clients', await get('/api/v1/clients'));
    await conforms(doc, 'GET', '/api/v1/clients', await get('/api/v1/clients?limit=1'));
    await conforms(doc, 'GET', '/api/v1/clients/{domain}', await get('/api/v1/clients/alice'));
    await conforms(doc, 'GET', '/api/v1/streams', await get('/api/v1/streams'));
    await conforms(doc, 'GET', '/api/v1/streams', await get('/api/v1/streams?domain=bob&limit=1'));
    await conforms(doc, 'GET', '/healthz', await get('/healthz'));
    await conforms(doc, 'GET', '/metrics', await get('/metrics'));
    await conforms(doc, 'GET', '/api/v1/openapi.json', await request(sw.url, '/api/v1/openapi.json'));
  });

  it('switcher: errors', async () => {
    const get = (path: string) => request(sw.url, path, { token: TOKEN });
    await conforms(doc, 'GET', '/api/v1/clients', await get('/api/v1/clients?limit=0'));
    await conforms(doc, 'GET', '/api/v1/clients', await get('/api/v1/clients?cursor=x'));
    await conforms(
      doc,
      'GET',
      '/api/v1/clients',
      await request(sw.url, '/api/v1/clients', { token: 'wrong' }),
    );
    await conforms(
      doc,
      'GET',
      '/api/v1/clients',
      await request(sw.url, '/api/v1/clients', { token: TOKEN, headers: { host: 'evil.example' } }),
    );
    await conforms(doc, 'GET', '/api/v1/clients/{domain}', await get('/api/v1/clients/nobody'));
    await conforms(doc, 'GET', '/api/v1/clients/{domain}', await get('/api/v1/clients/no%20way!'));
    await conforms(doc, 'GET', '/api/v1/listeners', await get('/api/v1/listeners'));
    await conforms(doc, 'GET', '/metrics', await request(sw.url, '/metrics'));
    const conflict = await request(sw.url, '/api/v1/clients/alice?id=999999', {
      method: 'DELETE',
      token: TOKEN,
    });
    expect(conflict.status).toBe(409);
    await conforms(doc, 'DELETE', '/api/v1/clients/{domain}', conflict);
  });

  it('switcher: a kick', async () => {
    const carol = t.session('carol', { reconnect: false });
    await carol.ready({ timeout: 5_000 });
    const r = await request(sw.url, '/api/v1/clients/carol?reason=test', { method: 'DELETE', token: TOKEN });
    expect(r.status).toBe(200);
    await conforms(doc, 'DELETE', '/api/v1/clients/{domain}', r);
  });

  it('node: info, streams, listeners, errors', async () => {
    const get = (path: string) => request(node.url, path);
    await eventually(async () => {
      const r = await get('/api/v1/streams');
      const [s] = (r.json as { streams: { rateOut: number; rttMs: number | null }[] }).streams;
      expect(s.rateOut > 0 && s.rttMs !== null).toBe(true);
    });
    await conforms(doc, 'GET', '/api/v1/info', await get('/api/v1/info'));
    await conforms(doc, 'GET', '/api/v1/streams', await get('/api/v1/streams'));
    await conforms(doc, 'GET', '/api/v1/streams', await get('/api/v1/streams?domain=alice&limit=1'));
    await conforms(doc, 'GET', '/api/v1/listeners', await get('/api/v1/listeners'));
    await conforms(doc, 'GET', '/api/v1/streams', await get('/api/v1/streams?domain=-'));
    await conforms(doc, 'GET', '/api/v1/clients', await get('/api/v1/clients'));
    await conforms(doc, 'GET', '/healthz', await get('/healthz'));
  });
});
