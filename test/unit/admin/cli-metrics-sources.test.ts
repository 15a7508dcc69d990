import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cliMetrics } from '../../../src/admin/index.js';
import { ConfigError } from '../../../src/errors.js';

/**
 * cliMetrics(registry, sources) reads its sources at scrape time. Sources of null failed the call
 * with a TypeError, and sources without `reloads` were taken, then failed every scrape of
 * /metrics with one (the admin answering 500). docs/errors.md: a bad argument is a ConfigError,
 * thrown by the call.
 */
describe('cliMetrics() sources', () => {
  it('are refused at the call when they are no object or lack reloads', async () => {
    const cases: [unknown, string][] = [
      [null, 'cliMetrics() sources must be an object, got null'],
      [5, 'cliMetrics() sources must be an object, got 5'],
      [{}, 'cliMetrics() sources.reloads must be an object, got undefined'],
      [{ reloads: null }, 'cliMetrics() sources.reloads must be an object, got null'],
      [
        { reloads: { ok: 0, failed: 0, lastSuccess: 0 }, certificate: 7 },
        'cliMetrics() sources.certificate must be an object, got 7',
      ],
    ];
    for (const [sources, message] of cases) {
      const registry = new Registry();
      expect(() => cliMetrics(registry, sources as never)).toThrow(new ConfigError(message));
      // Nothing registered: the registry scrapes as before.
      await expect(registry.metrics()).resolves.toBe('\n');
    }
  });

  it('with reloads, are read at scrape time', async () => {
    const registry = new Registry();
    const reloads = { ok: 2, failed: 1, lastSuccess: 5_000 };
    cliMetrics(registry, { reloads });
    const text = await registry.metrics();
    expect(text).toContain('flexmux_reloads_total{result="ok"} 2');
    expect(text).toContain('flexmux_reloads_total{result="failed"} 1');
    expect(text).toContain('flexmux_reload_last_success_timestamp_seconds 5');
  });
});
