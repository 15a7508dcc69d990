import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../src/errors.js';
import { Heartbeat } from '../../../src/node/heartbeat.js';

const INTERVAL = 100;
const TIMEOUT = 50;

/** A heartbeat over a peer that never answers: nothing is received, every ping times out. */
function silentPeer(onDead: (err: Error) => void): Heartbeat {
  return new Heartbeat(
    INTERVAL,
    TIMEOUT,
    () => 0,
    () => 0,
    () => false,
    (t) =>
      new Promise<number>((_, reject) => setTimeout(() => reject(new TimeoutError('ping timed out')), t)),
    onDead,
  );
}

describe('heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('finds a silent peer within interval + timeout', async () => {
    const dead = vi.fn();
    const hb = silentPeer(dead);
    await vi.advanceTimersByTimeAsync(INTERVAL + TIMEOUT + INTERVAL / 4 + 10);
    hb.stop();
    expect(dead).toHaveBeenCalledTimes(1);
  });

  it('finds a silent peer after the wall clock steps back', async () => {
    // An NTP step or a VM resumed from a snapshot sets Date.now() back: a heartbeat timed by the
    // wall clock saw "now - last write" negative and pinged no more until the clock caught up
    // (an hour here), so a dead peer went unnoticed that long.
    const dead = vi.fn();
    const hb = silentPeer(dead);
    // After the first check, which took note of the (empty) traffic.
    await vi.advanceTimersByTimeAsync(INTERVAL / 4 + 1);
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(INTERVAL + TIMEOUT + INTERVAL / 4 + 10);
    hb.stop();
    expect(dead).toHaveBeenCalledTimes(1);
  });
});
