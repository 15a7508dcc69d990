import { readFileSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../../src/admin/metrics.js';
import { nodeMetrics } from '../../../src/admin/node-metrics.js';
import type { NodeView } from '../../../src/admin/node-view.js';
import { SwitcherMetrics } from '../../../src/admin/switcher-metrics.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { PASSWORD } from '../switcher/helpers.js';

/**
 * The HELP text and the docs/admin.md row of the two frames-dropped counters name every case that
 * counts in them. Each list below is one case per place that increments the counter (the
 * switcher's router.ts drop/dropped/refuseOpen and their callers in client.ts, switcher.ts and
 * revoke.ts; the node's stats.dropped in node.ts), written as a phrase both texts must contain.
 */

const SWITCHER_CASES = [
  'to an IP no client holds',
  'or IP 0',
  'access rules keep apart',
  'PingDomain ACK',
  'OpenStream ACK',
  'liveness ping ACK',
  'answered with a refusal',
  'no such node or domain',
  'too many streams or early-data routes',
  'rewritten domain would not fit',
  'refused as one stream too many',
  'destination that is closing',
  'over the hold limit',
  'given up',
  'not taking it or gone',
  'new access rules',
  'reset at the other end',
  'early data held for a dial',
  'still queued for the client that left',
  'frames_spoofed_total',
  'frames_ignored_total',
];

const NODE_CASES = [
  'data for no stream',
  'unknown command',
  'duplicate OpenStream ACK',
  'from elsewhere than the dial went',
  'ahead of an OpenStream ACK',
  'refused',
  'timed out',
  'connection closed',
  'stream already open',
  'another address',
];

const docs = readFileSync(new URL('../../../docs/admin.md', import.meta.url), 'utf8');
const docsRow = (name: string): string => docs.split('\n').find((l) => l.startsWith(`| \`${name}\` |`)) ?? '';

/** A series' HELP text, as declared (prom-client keeps it on the metric; its types leave it out). */
const helpOf = (registry: Registry, name: string): string =>
  (registry.getSingleMetric(name) as unknown as { help?: string } | undefined)?.help ?? '';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('frames_dropped_total HELP text and docs', () => {
  it('names every case the switcher counts as a dropped frame', () => {
    const sw = new Switcher({ password: PASSWORD });
    const registry = createRegistry('switcher', false);
    const metrics = new SwitcherMetrics(registry, sw);
    closers.push(
      () => metrics.close(),
      () => sw.close({ timeout: 500 }),
    );
    const help = helpOf(registry, 'flexmux_switcher_frames_dropped_total');
    const row = docsRow('flexmux_switcher_frames_dropped_total');
    expect(SWITCHER_CASES.filter((c) => !help.includes(c))).toEqual([]);
    expect(SWITCHER_CASES.filter((c) => !row.includes(c))).toEqual([]);
  });

  it('names every case the node counts as a dropped frame', () => {
    const registry = createRegistry('node', false);
    // Nothing is scraped: only the series' declarations are read.
    nodeMetrics(registry, {} as NodeView, null);
    const help = helpOf(registry, 'flexmux_node_frames_dropped_total');
    const row = docsRow('flexmux_node_frames_dropped_total');
    expect(NODE_CASES.filter((c) => !help.includes(c))).toEqual([]);
    expect(NODE_CASES.filter((c) => !row.includes(c))).toEqual([]);
  });
});
