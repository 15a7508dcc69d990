import { Counter, collectDefaultMetrics, Gauge, type LabelValues, type Metric, Registry } from 'prom-client';
import { PROTOCOL_VERSION } from '../wire/constants.js';
import { packageVersion } from './version.js';

/**
 * The pieces every /metrics registry is built from. Each admin server has its own Registry (never
 * prom-client's global one), so two servers in one process keep separate series. Most values are
 * read from the core's counters at scrape time; events the core emits (refusals, departures)
 * are counted as they happen.
 */

export type Sample<L extends string> = readonly [LabelValues<L>, number];

/** RTT buckets in seconds: from a LAN hop to a congested intercontinental path. */
export const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createRegistry(mode: 'switcher' | 'node', processMetrics: boolean): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'flexmux_info',
    help: 'Constant 1, labelled with the flexmux version, the protocol version and what is served.',
    labelNames: ['version', 'protocol', 'mode'] as const,
    registers: [registry],
  }).set({ version: packageVersion(), protocol: String(PROTOCOL_VERSION), mode }, 1);
  if (processMetrics) addProcessMetrics(registry);
  return registry;
}

/** prom-client's process metrics, made once per process (addProcessMetrics). */
let processRegistry: Registry | null = null;

/**
 * Adds prom-client's Node.js process metrics to `registry`: the same metric objects for every
 * registry that asks, made once. Making them starts an event-loop delay monitor (a timer every
 * 10 ms) and a GC observer, which prom-client offers no way to stop: made per admin server, each
 * server started and closed left one of each running for the life of the process. Their values
 * are the process's, the same whichever server serves them.
 */
function addProcessMetrics(registry: Registry): void {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  // The metric objects themselves (prom-client's types say MetricObject, a plain description).
  for (const metric of processRegistry.getMetricsAsArray())
    registry.registerMetric(metric as unknown as Metric);
}

function keyOf(labels: LabelValues<string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A series a counter reported: its labels and the highest value read. */
interface Reported<L extends string> {
  labels: LabelValues<L>;
  value: number;
}

/**
 * A counter whose values are read from the core at scrape time. A value never goes below what was
 * last reported, so a count that dips for a moment (a client between leaving the registry and
 * reporting its final numbers) never looks like a counter reset to Prometheus. Nor does a series
 * once reported leave a scrape: one the read misses is served at the value last reported. Frames
 * by command are read from the live clients and from the departure events: a command only one
 * client had sent was in neither while that client was leaving (kicked, its connection not yet
 * ended), and its series dropped out of the scrapes meanwhile.
 */
export function readCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): Counter<L> {
  const reported = new Map<string, Reported<L>>();
  const c: Counter<L> = new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: () => {
      c.reset();
      for (const [labels, v] of read()) {
        const k = keyOf(labels);
        const value = Number.isFinite(v) ? v : 0;
        const r = reported.get(k);
        if (r === undefined) reported.set(k, { labels, value });
        else r.value = Math.max(r.value, value);
      }
      for (const r of reported.values()) c.inc(r.labels, r.value);
    },
  });
  return c;
}

/** A gauge whose values are read from the core at scrape time. */
export function readGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<Sample<L>>,
): Gauge<L> {
  const g: Gauge<L> = new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect: () => {
      g.reset();
      for (const [labels, v] of read()) g.set(labels, v);
    },
  });
  return g;
}

/** One unlabelled value. */
export const one = (v: number): Sample<never>[] => [[{}, v]];
