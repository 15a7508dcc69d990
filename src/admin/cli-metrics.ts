import type { Registry } from 'prom-client';
import { ConfigError } from '../errors.js';
import { checkMethods, shown } from '../util/check.js';
import { one, readCounter, readGauge } from './metrics.js';

/**
 * The series `flexmux switcher` and `flexmux node` add to their admin server's registry (names
 * listed in docs/admin.md): their reloads on SIGHUP and, for a switcher with secure listeners,
 * when its certificate expires. The CLI keeps the numbers (src/cli/reload-count.ts,
 * cert-expiry.ts); they are read at scrape time, as the core's are.
 */

/** The CLI's reload counts on SIGHUP, as `flexmux_reloads_total` shows them. */
export interface ReloadCountsView {
  /** Reloads without a failure. */
  readonly ok: number;
  /** Reloads with any failure (a file that cannot be read or checked). */
  readonly failed: number;
  /** ms since the epoch: the end of the last reload without a failure, or the start. */
  readonly lastSuccess: number;
}

export interface ServedCertificateView {
  /** The kinds of secure listener serving it: `tls`, `wss`. */
  readonly kinds: readonly string[];
  /** The leaf's notAfter, in ms since the epoch; null when it could not be read (no series). */
  readonly notAfter: number | null;
}

/** What the CLI adds to the admin server's metrics. */
export interface CliMetricsSources {
  /** The reloads on SIGHUP. */
  reloads: ReloadCountsView;
  /** The switcher's, with --tls or --wss. */
  certificate?: ServedCertificateView;
}

export function cliMetrics(registry: Registry, s: CliMetricsSources): void {
  checkMethods('cliMetrics() registry', 'a prom-client Registry', registry, ['registerMetric']);
  // Read at scrape time: sources without reloads failed every scrape of /metrics (a 500) with a
  // TypeError, and null failed the call with one.
  if (typeof s !== 'object' || s === null) {
    throw new ConfigError(`cliMetrics() sources must be an object, got ${shown(s)}`);
  }
  if (typeof s.reloads !== 'object' || s.reloads === null) {
    throw new ConfigError(`cliMetrics() sources.reloads must be an object, got ${shown(s.reloads)}`);
  }
  if (s.certificate !== undefined && (typeof s.certificate !== 'object' || s.certificate === null)) {
    throw new ConfigError(`cliMetrics() sources.certificate must be an object, got ${shown(s.certificate)}`);
  }
  const r = registry;
  const none: readonly never[] = [];
  const { reloads, certificate } = s;
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
  if (certificate !== undefined) {
    readGauge(
      r,
      'flexmux_tls_certificate_expiry_timestamp_seconds',
      'Unix time the certificate served (the leaf of --cert) expires, its notAfter, by kind of listener.',
      ['kind'],
      () => {
        const t = certificate.notAfter;
        return t === null ? [] : certificate.kinds.map((kind) => [{ kind }, t / 1000] as const);
      },
    );
  }
}
