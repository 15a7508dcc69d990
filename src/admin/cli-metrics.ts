import type { Registry } from 'prom-client';
import { one, readCounter, readGauge } from './metrics.js';

/**
 * The series `flexmux switcher` and `flexmux node` add to their admin server's registry (names
 * listed in docs/admin.md): their reloads on SIGHUP. The CLI keeps the numbers
 * (src/cli/reload-count.ts); they are read at scrape time, as the core's are.
 */

export interface ReloadCountsView {
  readonly ok: number;
  readonly failed: number;
  /** ms since the epoch: the end of the last reload without a failure, or the start. */
  readonly lastSuccess: number;
}

export interface CliMetricsSources {
  reloads: ReloadCountsView;
}

export function cliMetrics(registry: Registry, s: CliMetricsSources): void {
  const r = registry;
  const none: readonly never[] = [];
  const { reloads } = s;
  readCounter(
    r,
    'flexmux_reloads_total',
    'Reloads on SIGHUP, by result: failed when any file could not be read or applied.',
    ['result'],
    () => [
      [{ result: 'ok' }, reloads.ok],
      [{ result: 'failed' }, reloads.failed],
    ],
  );
  readGauge(
    r,
    'flexmux_reload_last_success_timestamp_seconds',
    'Unix time of the last reload on SIGHUP without a failure; of the start until there was one.',
    none,
    () => one(reloads.lastSuccess / 1000),
  );
}
