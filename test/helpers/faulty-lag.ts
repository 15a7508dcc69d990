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
