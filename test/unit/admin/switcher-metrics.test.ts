import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRegistry } from '../../../src/admin/metrics.js';
import { SwitcherMetrics } from '../../../src/admin/switcher-metrics.js';
import { SwitcherView } from '../../../src/admin/switcher-view.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { join, PASSWORD, type Raw } from '../switcher/helpers.js';

/**
 * What a /metrics scrape costs as clients come: its series are sums over clients, so its size
 * must not grow with them, and it reads the switcher's per-client snapshot once, not per series
 * (docs/admin.md, "Cost of a scrape"). Sizes and call counts only: no timing.
 */

const open: { sw: Switcher; metrics: SwitcherMetrics }[] = [];
afterEach(async () => {
  for (const { sw, metrics } of open.splice(0)) {
    metrics.close();
    await sw.close({ timeout: 500 });
  }
});

/** A switcher with `n` admitted clients that each pinged it once, and its metrics. */
async function withClients(n: number) {
  const sw = new Switcher({ password: PASSWORD });
  const registry = createRegistry('switcher', false);
  const metrics = new SwitcherMetrics(registry, sw, new SwitcherView(sw, 10, 10));
  open.push({ sw, metrics });
  const raws: Raw[] = [];
  for (let i = 0; i < n; i++) raws.push(await join(sw, `m-${i}`));
  await Promise.all(raws.map((r) => r.barrier()));
  return { sw, registry };
}

const samples = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('switcher /metrics', () => {
  it('serves the same series, and about the same bytes, for 3 clients and for 60', async () => {
    const few = await (await withClients(3)).registry.metrics();
    const many = await (await withClients(60)).registry.metrics();
    const names = (text: string) => samples(text).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(names(many)).toEqual(names(few));
    // Only the digits of the values differ.
    expect(Math.abs(many.length - few.length)).toBeLessThan(100);
  });

  it('reads the clients and the stats of the switcher once per scrape', async () => {
    const { sw, registry } = await withClients(5);
    const clients = vi.spyOn(sw, 'clients');
    const stats = vi.spyOn(sw, 'stats');
    const text = await registry.metrics();
    expect(clients).toHaveBeenCalledTimes(1);
    expect(stats).toHaveBeenCalledTimes(1);
    expect(samples(text)).toContain('flexmux_switcher_client_streams 0');
    expect(samples(text)).toContain('flexmux_switcher_clients 5');
    // The next scrape reads them afresh.
    await registry.metrics();
    expect(clients).toHaveBeenCalledTimes(2);
    await registry.getMetricsAsJSON();
    expect(clients).toHaveBeenCalledTimes(3);
  });
});
