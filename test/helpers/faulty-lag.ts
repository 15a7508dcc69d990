import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Measures how late this process's event loop ran while a timing assertion was being made, so a
 * deadline can allow for a loaded machine (other test files on the same cores) without being
 * loosened for everybody: `deadline + lag.maxMs()`.
 */
export function lagMonitor(): { maxMs(): number; stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    maxMs: () => h.max / 1e6,
    stop: () => h.disable(),
  };
}

/**
 * Records when this process's event loop stalled (a 10 ms timer running `minMs` or more late),
 * so a test whose peers share this loop can tell a stall that starved them from a real fault:
 * `longestWithin(from, to)` is the longest stall that ended in that span (performance.now()).
 */
export function stallLog(minMs = 20): { longestWithin(from: number, to: number): number; stop(): void } {
  const stalls: { end: number; ms: number }[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const t = performance.now();
    const late = t - last - 10;
    if (late >= minMs) stalls.push({ end: t, ms: late });
    last = t;
  }, 10);
  return {
    longestWithin: (from, to) =>
      stalls.filter((s) => s.end >= from && s.end - s.ms <= to).reduce((m, s) => Math.max(m, s.ms), 0),
    stop: () => clearInterval(timer),
  };
}
