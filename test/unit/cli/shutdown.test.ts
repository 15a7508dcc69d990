import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { onStopSignal } from '../../../src/cli/shutdown.js';
import { silentLogger } from '../../../src/util/logger.js';

describe('onStopSignal', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('waits for a stop whose bound is past what a timer can hold (--close-timeout near 2^31 ms)', async () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    // switcher: --close-timeout 2147483647 plus 3 s of slack. Node runs a timer longer than
    // 2^31-1 ms after 1 ms instead, so the stop was cut short at once with exit 1.
    const shutdown = onStopSignal(silentLogger, 2 ** 31 - 1 + 3_000);
    try {
      await shutdown.run(() => sleep(20));
      expect(exit).not.toHaveBeenCalled();
    } finally {
      shutdown.dispose();
    }
  });
});
