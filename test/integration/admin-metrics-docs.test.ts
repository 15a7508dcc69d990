import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cliMetrics, startAdmin } from '../../src/admin/index.js';
import { Node } from '../../src/index.js';
import { Switcher } from '../../src/switcher/index.js';
import { memoryPair } from '../../src/transport/memory.js';
import { eventually, parseMetrics, startTraffic } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * docs/admin.md's metric tables against the registries: every documented series exists with the
 * documented type and labels, nothing undocumented is served, and names follow Prometheus
 * conventions (counters end in `_total`, units in the name).
 */

interface Documented {
  type: string;
  labels: string[];
  /** The labels cell as written. */
  text: string;
}

/** The `| name | type | labels |` rows after `heading` (a line such as `Switcher:`). */
function documented(heading: string): Map<string, Documented> {
  const md = readFileSync(new URL('../../docs/admin.md', import.meta.url), 'utf8');
  const section = md.slice(md.indexOf('## Metrics'));
  const lines = section
    .slice(section.indexOf(`\n${heading}\n`))
    .split('\n')
    .slice(2);
  const out = new Map<string, Documented>();
  for (const line of lines) {
    if (line === '') {
      if (out.size > 0) break;
      continue;
    }
    const m = /^\| `([a-z_]+)` \| (\w+) \|\s*(.*?)\s*\|$/.exec(line);
    if (m === null) continue; // the header and its rule
    // The labels cell starts with the label names in backticks (`a`, `b`), or has prose only.
    const lead = /^(?:`\w+`, )*`\w+`/.exec(m[3]);
    const labels = lead === null ? [] : [...lead[0].matchAll(/`(\w+)`/g)].map((l) => l[1]!);
    out.set(m[1], { type: m[2], labels, text: m[3] });
  }
  return out;
}

async function served(registry: Registry): Promise<Map<string, Documented>> {
  const out = new Map<string, Documented>();
  for (const m of await registry.getMetricsAsJSON()) {
    if (m.name === 'flexmux_info') continue;
    const labels = new Set<string>();
    for (const v of m.values) for (const k of Object.keys(v.labels)) if (k !== 'le') labels.add(k);
    out.set(m.name, { type: String(m.type), labels: [...labels], text: '' });
  }
  return out;
}

function conventions(all: Map<string, Documented>): void {
  for (const [name, m] of all) {
    expect(name.endsWith('_total'), `${name}: counters end in _total, nothing else does`).toBe(
      m.type === 'counter',
    );
    if (/rtt|uptime/.test(name)) expect(name, 'durations are in seconds').toMatch(/_seconds$/);
  }
}

/** The `| name | type | labels |` rows of `heading` and of the table both modes serve. */
function documentedWithOwn(heading: string): Map<string, Documented> {
  const own = documented(
    "Both modes: `flexmux_info{version, protocol, mode}` (constant 1), and the admin server's own:",
  );
  expect(own.size).toBe(1);
  return new Map([...own, ...documented(heading)]);
}

/** The documented metrics are the served ones, with their types, labels and naming conventions. */
function agree(docs: ReturnType<typeof documented>, live: Awaited<ReturnType<typeof served>>): void {
  // A labelled series with nothing to show yet (RTT by target) has no label to compare.
  for (const [name, d] of docs) {
    const s = live.get(name);
    expect(s?.type, name).toBe(d.type);
    if (s !== undefined && s.labels.length > 0) expect(s.labels, name).toEqual(d.labels);
  }
  expect([...live.keys()].sort()).toEqual([...docs.keys()].sort());
  conventions(live);
}

describe('docs/admin.md metric tables', () => {
  it('match the switcher registry', async () => {
    const sw = new Switcher({ password: 'docs' });
    const admin = await startAdmin({ switcher: sw, port: 0 });
    try {
      const docs = documentedWithOwn('Switcher:');
      expect(docs.size).toBeGreaterThan(10);
      agree(docs, await served(admin.registry));
    } finally {
      await admin.close();
      await sw.close({ timeout: 100 });
    }
  });

  it('match the node registry', async () => {
    const [x, y] = memoryPair();
    const a = new Node(x, { domain: 'a', ip: 1 });
    const b = new Node(y, { domain: 'b', ip: 2 });
    const admin = await startAdmin({ node: a, port: 0, pingInterval: 60_000 });
    try {
      const docs = documentedWithOwn('Node:');
      expect(docs.size).toBeGreaterThan(5);
      agree(docs, await served(admin.registry));
    } finally {
      await admin.close();
      a.destroy();
      b.destroy();
    }
  });

  it('match the series the switcher and node commands add', async () => {
    const registry = new Registry();
    cliMetrics(registry, {
      reloads: { ok: 0, failed: 0, lastSuccess: 0 },
      certificate: { kinds: ['tls', 'wss'], notAfter: 0 },
    });
    const docs = documented(
      'Added by the `flexmux switcher` and `flexmux node` commands (a program calling `startAdmin` has none, unless it adds them with `cliMetrics(admin.registry, sources)` from `flexmux/admin`):',
    );
    expect(docs.size).toBe(3);
    agree(docs, await served(registry));
    for (const name of docs.keys()) expect(name, 'times are in seconds').toMatch(/_total$|_seconds$/);
  });

  it('mark the switcher series that count clients gone before the admin server started as such', async () => {
    const t = await startTraffic();
    try {
      await t.more(64 * 1024);
      await Promise.all([t.alice.close(), t.bob.close()]);
      await eventually(() => expect(t.sw.clients()).toHaveLength(0));
      const admin = await startAdmin({ switcher: t.sw, port: 0 });
      try {
        const m = parseMetrics((await request(admin.url, '/metrics')).text);
        // The core's own totals include the two clients gone ...
        expect(m.get('flexmux_switcher_bytes_total{direction="in"}')).toBeGreaterThan(64 * 1024);
        // ... but these series add a departed client only from its clientLeft event.
        expect(m.get('flexmux_switcher_frames_total{direction="in"}')).toBe(0);
        expect(m.get('flexmux_switcher_streams_opened_total')).toBe(0);
        expect([...m.keys()].some((k) => k.startsWith('flexmux_switcher_frames_received_total'))).toBe(false);
        const docs = documented('Switcher:');
        for (const name of [
          'flexmux_switcher_frames_total',
          'flexmux_switcher_frames_received_total',
          'flexmux_switcher_streams_opened_total',
        ]) {
          expect(docs.get(name)?.text, name).toMatch(/since the admin server started/);
        }
      } finally {
        await admin.close();
      }
    } finally {
      await t.close();
    }
  });
});
