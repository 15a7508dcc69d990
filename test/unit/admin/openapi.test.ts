import { describe, expect, it } from 'vitest';
import { StaticFiles } from '../../../src/admin/assets.js';
import { type InspectableNode, validateAdminOptions } from '../../../src/admin/config.js';
import { EventHub } from '../../../src/admin/events.js';
import { Feed } from '../../../src/admin/feed.js';
import { readPage } from '../../../src/admin/http.js';
import { createRegistry } from '../../../src/admin/metrics.js';
import { NodePanel } from '../../../src/admin/node-panel.js';
import { openapiDocument } from '../../../src/admin/openapi.js';
import type { Panel } from '../../../src/admin/panel.js';
import { buildRouter } from '../../../src/admin/server.js';
import { SwitcherPanel } from '../../../src/admin/switcher-panel.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * The OpenAPI document against the routes the server registers, both ways: every documented
 * operation is a route of each mode (the other mode's answer 404 with a hint, but they exist),
 * every route is documented but the dashboard's scripts and style sheets, and a route is public
 * exactly where the document asks for no security, and takes `?access_token=` exactly where it
 * says so.
 */

interface Operation {
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, unknown>;
}

/** A path item: operations by method, and `parameters` shared by them. */
type PathItem = Record<string, Operation | undefined>;

const doc = openapiDocument() as { paths: Record<string, PathItem> };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** "GET /path access" for each documented operation. */
function documented(): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method) || op === undefined) continue;
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      const access =
        op.security?.length === 0 ? 'public' : schemes.includes('queryToken') ? 'token-or-query' : 'token';
      out.push(`${method.toUpperCase()} ${path} ${access}`);
    }
  }
  return out.sort();
}

const node: InspectableNode = {
  ip: 1,
  domain: 'n',
  closed: true,
  streamCount: 0,
  stats: { framesIn: 0, bytesIn: 0, dropped: 0, streamsOpened: 0, streamsAccepted: 0 },
  scheduler: { bytesWritten: 0, controlLength: 0 },
  transport: { remoteAddress: '' },
  options: { pingTimeout: 1_000 },
  streamList: () => [],
  streamPage: () => [],
  streamsAdded: 0,
  listenerPorts: () => [],
  ping: async () => 0,
};

describe('admin OpenAPI document', () => {
  for (const mode of ['switcher', 'node'] as const) {
    it(`lists exactly the routes a ${mode} serves, with their access`, async () => {
      const sw = new Switcher({ password: 'x' });
      const o = validateAdminOptions(mode === 'switcher' ? { switcher: sw } : { node, pingInterval: 0 });
      const registry = createRegistry(mode, false);
      const panel: Panel =
        mode === 'switcher'
          ? new SwitcherPanel(sw, o, registry)
          : new NodePanel(node, o, registry, silentLogger);
      const hub = new EventHub(1, 1024, silentLogger);
      try {
        const router = buildRouter(panel, new Feed(panel, hub), new StaticFiles(), registry);
        const assets = new Set(StaticFiles.paths.filter((p) => p !== '/'));
        const registered = router.routes
          .filter((r) => !assets.has(r.path))
          .map((r) => `${r.method} ${r.path} ${r.access}`)
          .sort();
        expect(registered).toEqual(documented());
        // Each path parameter of a route is declared, and nothing else is a path parameter.
        for (const r of router.routes) {
          const item = doc.paths[r.path];
          if (item === undefined) continue;
          const names = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
          const shared = (item.parameters as unknown as Operation['parameters']) ?? [];
          const declared = [...shared, ...(item[r.method.toLowerCase()]?.parameters ?? [])]
            .filter((p) => p.in === 'path')
            .map((p) => p.name)
            .sort();
          expect(declared, `${r.method} ${r.path}`).toEqual(names);
        }
      } finally {
        hub.close();
        panel.close();
        await sw.close();
      }
    });
  }

  it('bounds limit and offset as the server reads them', () => {
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const p of item.get?.parameters ?? []) {
        if (p.name !== 'limit' && p.name !== 'offset') continue;
        const { minimum, maximum } = (p as unknown as { schema: { minimum?: number; maximum?: number } })
          .schema;
        const where = `${path} ?${p.name}=`;
        // Both bounds are stated, and they are the server's: in them a value is read, past them 400.
        expect(typeof minimum, where).toBe('number');
        expect(typeof maximum, where).toBe('number');
        const page = (v: number) => () => readPage(new URL(`http://h/?${p.name}=${v}`));
        expect(page(minimum as number), where).not.toThrow();
        expect(page(maximum as number), where).not.toThrow();
        expect(page((maximum as number) + 1), where).toThrow(/must be a whole number/);
        if ((minimum as number) > 0)
          expect(page((minimum as number) - 1), where).toThrow(/must be a whole number/);
        checked++;
      }
    }
    expect(checked).toBe(4);
  });

  it('lists the errors every route can answer', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method) || op === undefined) continue;
        const codes = Object.keys(op.responses);
        const where = `${method.toUpperCase()} ${path}`;
        // A Host that is not a name of the server gets 403, on any path.
        expect(codes, where).toContain('403');
        if (op.security?.length !== 0) expect(codes, where).toContain('401');
        // Node's parser and timeouts answer any request, before it is routed (client-error.ts).
        expect(codes, where).toContain('408');
        expect(codes, where).toContain('431');
      }
    }
    // The page's files may be missing (the API works without them).
    expect(Object.keys(doc.paths['/']?.get?.responses ?? {})).toContain('404');
  });
});
