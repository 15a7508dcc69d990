import type { Logger } from '../util/logger.js';
import { timeout } from '../util/timers.js';

/**
 * Graceful stop on SIGINT/SIGTERM for long-running commands. The first signal starts `stop`; a
 * second signal, or `stop` running past `bound` ms, ends the process at once with exit code 1,
 * so an operator's Ctrl-C or a supervisor's TERM always ends it in bounded time. A second
 * signal does so also before `run`: while the command is still starting (its listeners bind, a
 * host name resolves), when the first one can only be acted on once start-up is done.
 */

export type StopSignal = 'SIGINT' | 'SIGTERM';

const SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

export interface ShutdownHandle {
  /** Resolves with the signal once one arrived (never resolves otherwise). */
  readonly signalled: Promise<StopSignal>;
  /** Whether a signal has arrived: a command still starting stops before it goes further. */
  readonly requested: boolean;
  /** Runs `stop` under the bound; later signals force the exit. */
  run(stop: () => Promise<void>): Promise<void>;
  /** Removes the signal handlers. */
  dispose(): void;
}

export function onStopSignal(logger: Logger, bound: number): ShutdownHandle {
  let resolveSignal: (s: StopSignal) => void = () => {};
  const signalled = new Promise<StopSignal>((resolve) => {
    resolveSignal = resolve;
  });
  // Set by the first signal, or by `run` when the command stops for another reason (node: its
  // session was lost): from then on a signal is a second one.
  let stopping = false;
  let requested = false;
  const handler = (signal: StopSignal): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    requested = true;
    logger.info({ signal }, 'stopping');
    resolveSignal(signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    signalled,
    get requested() {
      return requested;
    },
    async run(stop) {
      stopping = true;
      // Clamped: Node runs a longer timer after 1 ms, which cut every stop short with exit 1
      // (switcher --close-timeout near 2^31 ms, plus its slack).
      const timer = timeout(() => {
        logger.error({ bound }, 'shutdown took too long: exiting now');
        process.exit(1);
      }, bound);
      try {
        await stop();
      } finally {
        clearTimeout(timer);
      }
    },
    dispose() {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}
