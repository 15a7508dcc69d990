import { vi } from 'vitest';

/** How many timers `fn` leaves armed (setTimeout faked while it runs, real again after). */
export function timersArmedBy(fn: () => void): number {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    fn();
    return vi.getTimerCount();
  } finally {
    vi.useRealTimers();
  }
}
