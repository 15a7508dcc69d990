import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionClosedError, LimitError, TimeoutError } from '../../../src/errors.js';
import { Node } from '../../../src/index.js';
import { Heartbeat } from '../../../src/node/heartbeat.js';
import { Pinger } from '../../../src/node/pinger.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { Cmd } from '../../../src/wire/constants.js';
import { nextEvent } from '../../helpers/faulty-streams.js';
import { RawPeer } from '../../helpers/raw.js';

const INTERVAL = 100;
const TIMEOUT = 50;

/** A ping to a peer that never answers: it times out. */
const timesOut = (t: number): Promise<number> =>
  new Promise<number>((_, reject) => setTimeout(() => reject(new TimeoutError('ping timed out')), t));

/** A ping when every ping id is in use: it fails at once with a LimitError. */
const noFreePingId = (): Promise<number> => Promise.reject(new LimitError('all 65535 ping ids are in use'));

/** A heartbeat over a peer that never answers (nothing is received); `ping` says how each ping fails. */
function silentPeer(
  onDead: (err: Error) => void,
  ping: (timeout: number) => Promise<number> = timesOut,
): Heartbeat {
  return new Heartbeat(
    INTERVAL,
    TIMEOUT,
    () => 0,
    () => 0,
    () => false,
    ping,
    onDead,
  );
}

describe('heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    // A failed test's skewed performance.now() (a sleep's) must not reach the next.
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('finds a silent peer within interval + timeout', async () => {
    const dead = vi.fn();
    const hb = silentPeer(dead);
    await vi.advanceTimersByTimeAsync(INTERVAL + TIMEOUT + INTERVAL / 4 + 10);
    hb.stop();
    expect(dead).toHaveBeenCalledTimes(1);
  });

  it('finds a silent peer when no ping id is free: a LimitError is no answer', async () => {
    // Every ping id in use (pings to a peer that never answers, each id kept out of use for the
    // retention after its timeout): ping() fails at once with a LimitError. Before, the heartbeat
    // took any failure but a timeout for an answer, so the dead peer was never found.
    const dead = vi.fn();
    const hb = silentPeer(dead, noFreePingId);
    await vi.advanceTimersByTimeAsync(INTERVAL + TIMEOUT + INTERVAL / 4 + 10);
    hb.stop();
    expect(dead).toHaveBeenCalledTimes(1);
    expect(dead.mock.calls[0]![0]).toBeInstanceOf(ConnectionClosedError);
  });

  it('stop() leaves no timer behind, also while a LimitError ping is being judged', async () => {
    const hb = silentPeer(() => {}, noFreePingId);
    // The first check pings (nothing heard for an interval); the failed ping's wait starts.
    await vi.advanceTimersByTimeAsync(INTERVAL + INTERVAL / 4);
    expect(vi.getTimerCount()).toBe(2);
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a peer heard from while no ping id is free is alive', async () => {
    const dead = vi.fn();
    let received = 0;
    const hb = new Heartbeat(
      INTERVAL,
      TIMEOUT,
      () => 0,
      () => received,
      () => false,
      () => {
        // The peer sends something while the failed ping's time runs.
        setTimeout(() => received++, TIMEOUT / 2);
        return Promise.reject(new LimitError('all 65535 ping ids are in use'));
      },
      dead,
    );
    await vi.advanceTimersByTimeAsync(3 * (INTERVAL + TIMEOUT));
    hb.stop();
    expect(dead).not.toHaveBeenCalled();
  });

  it('while its own output is backed up, finds a silent peer within 2 × interval + timeout (+ a quarter)', async () => {
    // A timeout as long as the interval. The ping that found the peer within the excuse for a
    // backed-up output (bytes heard in the last 2 × interval + timeout) used to leave the verdict
    // to the next ping, sent a check later and judged a timeout after: 3.5 s here, not 3.25 s.
    const [interval, timeout] = [1_000, 1_000];
    const dead = vi.fn();
    let written = 0;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => (written += 100),
      () => 1, // heard once, before the first check took note of it
      () => true,
      timesOut,
      dead,
    );
    await vi.advanceTimersByTimeAsync(2 * interval + timeout);
    expect(dead).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(interval / 4 + 10);
    hb.stop();
    expect(dead).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a ping excused by a backed-up output gets a new one once the output drains', async () => {
    // The ping waited behind our bulk data and may have only just gone out: not judged dead on
    // its old timeout the moment the backlog clears, but pinged again, with a timeout of its own.
    const [interval, timeout] = [1_000, 1_000];
    const pingedAt: number[] = [];
    let deadAt = -1;
    let backed = true;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => 0,
      () => 1,
      () => backed,
      (t) => {
        pingedAt.push(performance.now());
        return timesOut(t);
      },
      () => {
        if (deadAt < 0) deadAt = performance.now();
      },
    );
    // The first ping (1.25 s) times out at 2.25 s, excused; the output drains at 2.4 s.
    await vi.advanceTimersByTimeAsync(2_400);
    expect(pingedAt).toHaveLength(1);
    backed = false;
    // The peer stays silent: dead, but only once a ping sent after the drain has timed out.
    await vi.advanceTimersByTimeAsync(2 * timeout);
    hb.stop();
    expect(deadAt).toBeGreaterThan(0);
    const before = pingedAt.filter((t) => t < deadAt);
    expect(before).toHaveLength(2);
    expect(deadAt - before[1]!).toBeGreaterThanOrEqual(timeout);
  });

  it('while its own output is backed up, a peer heard during the excuse is alive, and pinged again', async () => {
    const dead = vi.fn();
    let received = 0;
    let pings = 0;
    let written = 0;
    const hb = new Heartbeat(
      INTERVAL,
      TIMEOUT,
      () => (written += 100),
      () => received,
      () => true,
      (t) => {
        pings++;
        return timesOut(t);
      },
      dead,
    );
    // Its ACKs trickle in, a byte every 1.5 intervals; its answers to pings never come.
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(INTERVAL * 1.5);
      received++;
    }
    expect(dead).not.toHaveBeenCalled();
    expect(pings).toBeGreaterThan(5);
    hb.stop();
  });

  /**
   * The defaults, an upload in flight (output backed up), the peer heard from until just before
   * the machine slept for an hour, and dead after it. `sleep` moves the clocks as the machine
   * wakes; the pings after the wake and the time from the wake to the verdict are returned.
   */
  async function deadAfterSleep(sleep: (ms: number) => void): Promise<{ pings: number; deadIn: number }> {
    const [interval, timeout] = [15_000, 2_000];
    let received = 0;
    let written = 0;
    let pings = 0;
    let deadAt = Number.NaN;
    const hb: Heartbeat = new Heartbeat(
      interval,
      timeout,
      () => (written += 100),
      () => received,
      () => true,
      (t) => {
        pings++;
        return timesOut(t);
      },
      () => {
        deadAt = Date.now();
        hb.stop();
      },
    );
    // Checks at 3.75 s and 7.5 s take note of the peer's bytes; more come at 9.9 s, before the
    // next check (11.25 s), and then the machine sleeps.
    received++;
    hb.heard();
    await vi.advanceTimersByTimeAsync(9_900);
    received++;
    hb.heard();
    expect(pings).toBe(0);
    sleep(3_600_000);
    const woke = Date.now();
    pings = 0;
    // Ample for the allowance of a ping stuck behind the upload (2 × interval + timeout).
    await vi.advanceTimersByTimeAsync(2 * interval + timeout + interval);
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
    return { pings, deadIn: deadAt - woke };
  }

  it('after a sleep the monotonic clock did not count, pings at once and finds a dead peer a timeout later', async () => {
    // Linux's monotonic clock stands still while suspended, and so the timers do: the first check
    // after the wake runs on time by it, only the wall clock jumped. The bytes heard before the
    // sleep (those heard just before it counted as heard at the wake) looked a moment old: the
    // first ping came an interval later, and, the output backed up, was excused for 2 × interval
    // + timeout after them: the dead peer was found 32 s after the wake, not 2 s after the ping.
    const { pings, deadIn } = await deadAfterSleep((ms) => vi.setSystemTime(Date.now() + ms));
    expect(pings).toBe(1);
    // The check at 11.25 s pings; it times out 2 s later.
    expect(deadIn).toBeGreaterThanOrEqual(2_000);
    expect(deadIn).toBeLessThanOrEqual(1_350 + 2_000 + 10);
  });

  it('after a sleep that made its timers late, pings at once and finds a dead peer a timeout later', async () => {
    // A monotonic clock that counts the sleep (macOS, a browser's): the check runs an hour late
    // by both clocks, and the bytes heard before the sleep, counted only now, passed for fresh.
    const fake = performance.now.bind(performance);
    let skew = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => fake() + skew);
    const { pings, deadIn } = await deadAfterSleep((ms) => {
      skew += ms;
      vi.setSystemTime(Date.now() + ms);
    });
    expect(pings).toBe(1);
    expect(deadIn).toBeGreaterThanOrEqual(2_000);
    expect(deadIn).toBeLessThanOrEqual(1_350 + 2_000 + 10);
  });

  it.each([
    ['', false],
    [', its output backed up', true],
  ])('a ping out across a sleep is not answered by bytes heard before it%s', async (_, backed) => {
    // The defaults; Linux's sleep (only the wall clock jumps). The heartbeat pings at 18.75 s,
    // bytes come in behind the ping, the machine sleeps at 19.5 s and the connection dies. Those
    // bytes answered the ping on waking (its timeout, 1.25 s after the wake, or, backed up, its
    // excuse judged again at the next check): the dead connection was dropped only when the
    // ping after it failed, 5 s (backed up: 7.25 s) after the wake, not a timeout after.
    const [interval, timeout] = [15_000, 2_000];
    let received = 1;
    let pings = 0;
    let deadAt = Number.NaN;
    let written = 0;
    const hb: Heartbeat = new Heartbeat(
      interval,
      timeout,
      () => (written += backed ? 100 : 0),
      () => received,
      () => backed,
      (t) => {
        pings++;
        return timesOut(t);
      },
      () => {
        deadAt = Date.now();
        hb.stop();
      },
    );
    await vi.advanceTimersByTimeAsync(19_000);
    expect(pings).toBe(1);
    received++;
    await vi.advanceTimersByTimeAsync(500);
    vi.setSystemTime(Date.now() + 3_600_000);
    const woke = Date.now();
    await vi.advanceTimersByTimeAsync(2 * interval + timeout);
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
    // The ping's timeout, 1.25 s after the wake, finds the sleep: a new ping, dead 2 s later.
    expect(pings).toBe(2);
    expect(deadAt - woke).toBeLessThanOrEqual(1_250 + timeout + 10);
  });

  it.each([
    ['only the wall clock jumps (Linux)', false],
    ['both clocks jump (a monotonic clock that counts the sleep)', true],
  ])(
    'bytes that come after a wake, before the check that finds it, are recent: no ping (%s)',
    async (_, both) => {
      // The defaults; the peer sends a byte every second, and this end writes all along. Linux's
      // check after the wake runs up to a quarter interval after it: the bytes heard meanwhile were
      // dated from the check before the sleep, and that check pinged a peer heard a moment before.
      const fake = performance.now.bind(performance);
      let skew = 0;
      vi.spyOn(performance, 'now').mockImplementation(() => fake() + skew);
      const [interval, timeout] = [15_000, 2_000];
      let received = 0;
      let written = 0;
      let pings = 0;
      const dead = vi.fn();
      const hb = new Heartbeat(
        interval,
        timeout,
        () => (written += 100),
        () => received,
        () => false,
        (t) => {
          pings++;
          return timesOut(t);
        },
        dead,
      );
      const peer = setInterval(() => {
        received++;
        hb.heard();
      }, 1_000);
      // The check at 7.5 s; the machine sleeps at 7.6 s, the peer's next byte comes 0.4 s after the
      // wake, and the check at 11.25 s (3.65 s after the wake) finds the sleep.
      await vi.advanceTimersByTimeAsync(7_600);
      if (both) skew += 3_600_000;
      vi.setSystemTime(Date.now() + 3_600_000);
      await vi.advanceTimersByTimeAsync(3_700);
      clearInterval(peer);
      hb.stop();
      expect(pings).toBe(0);
      expect(dead).not.toHaveBeenCalled();
    },
  );

  it('bytes that came before a sleep, counted after it, still ping at once (the wall clock dates them)', async () => {
    // The check before the sleep at 7.5 s; the peer's last bytes at 7.6 s, the machine sleeps at
    // 7.7 s; the check at 11.25 s counts them first. Heard an hour ago: it pings at once.
    const [interval, timeout] = [15_000, 2_000];
    let received = 0;
    let written = 0;
    let pings = 0;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => (written += 100),
      () => received,
      () => false,
      (t) => {
        pings++;
        return timesOut(t);
      },
      () => {},
    );
    await vi.advanceTimersByTimeAsync(7_600);
    received++;
    hb.heard();
    await vi.advanceTimersByTimeAsync(100);
    vi.setSystemTime(Date.now() + 3_600_000);
    await vi.advanceTimersByTimeAsync(3_600);
    hb.stop();
    expect(pings).toBe(1);
  });

  it('a ping out across a sleep is sent again under its own id: the wake takes no second ping id', async () => {
    // The node's pinger, a peer that never answers. The ping dropped at the wake kept its id in
    // use until its timeout (then its quarantine), beside the id of the ping sent in its place.
    // A timeout longer than a quarter interval, so the check finds the sleep before it runs out.
    const [interval, timeout] = [4_000, 2_000];
    const pinger = new Pinger();
    const sent: number[] = [];
    let deadAt = Number.NaN;
    let written = 0;
    const hb: Heartbeat = new Heartbeat(
      interval,
      timeout,
      () => (written += 100),
      () => 0,
      () => false,
      (t, again) => pinger.start((id) => sent.push(id), t, undefined, undefined, again),
      () => {
        deadAt = Date.now();
        hb.stop();
      },
    );
    // The ping at 5 s (nothing heard for an interval since the first check); the machine sleeps
    // at 5.5 s (Linux: only the wall clock jumps), and the check at 6 s finds the sleep.
    await vi.advanceTimersByTimeAsync(5_500);
    expect(sent).toHaveLength(1);
    vi.setSystemTime(Date.now() + 3_600_000);
    const woke = Date.now();
    await vi.advanceTimersByTimeAsync(600);
    expect(sent).toEqual([sent[0], sent[0]]);
    expect(pinger.size).toBe(1);
    // Its new timeout runs from the wake's check: dead 2 s after it, as before.
    await vi.advanceTimersByTimeAsync(timeout + 100);
    hb.stop();
    expect(deadAt - woke).toBeGreaterThanOrEqual(500 + timeout);
    expect(deadAt - woke).toBeLessThanOrEqual(500 + timeout + 10);
  });

  /**
   * An event loop stalled `stall` ms from 2,001 ms (a long synchronous job): a live peer's bytes
   * sent meanwhile are read only after the timers due at its end (2,250 ms) have run. Interval and
   * timeout 1 s; no ping id is free (the ping at 1,250 ms fails at once, judged at 2,250 ms).
   * Returns whether the connection was closed, and the pings.
   */
  async function stalledLivePeer(stall: number): Promise<{ dead: boolean; pings: number }> {
    const fake = performance.now.bind(performance);
    let skew = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => fake() + skew);
    let received = 0;
    let pings = 0;
    let dead = false;
    const hb = new Heartbeat(
      1_000,
      1_000,
      () => 0,
      () => received,
      () => false,
      () => {
        pings++;
        return Promise.reject(new LimitError('all 65535 ping ids are in use'));
      },
      () => {
        dead = true;
      },
    );
    await vi.advanceTimersByTimeAsync(2_001);
    expect(pings).toBe(1);
    skew += stall;
    vi.setSystemTime(Date.now() + stall);
    // Set after the heartbeat's timers, due with them: runs after them, as a poll would.
    setTimeout(() => received++, 249);
    // Up to the verdicts on the pings made around the stall (the next could come at 3,250 ms).
    await vi.advanceTimersByTimeAsync(1_400);
    hb.stop();
    vi.restoreAllMocks();
    expect(vi.getTimerCount()).toBe(0);
    return { dead, pings };
  }

  it('a stall shorter than an interval does not close the connection to a live peer', async () => {
    // The wait of a ping that could not go out (and the excuse of one behind a backed-up output)
    // ended in the timers phase, before the bytes that came during the stall were read: dead.
    const { dead } = await stalledLivePeer(800);
    expect(dead).toBe(false);
  });

  it('a long stall (40 s) does not close the connection to a live peer: one early ping at most', async () => {
    // The first check after it finds the stall (as it would a sleep) and pings again; the bytes
    // read then answer that ping.
    const { dead, pings } = await stalledLivePeer(40_000);
    expect(dead).toBe(false);
    expect(pings).toBe(2);
  });

  it('after a sleep shorter than an interval, finds a dead peer within interval + timeout + a quarter of the wake', async () => {
    // Not singled out (no early ping): the bound of a peer gone silent, counted from the wake,
    // which the docs state (20.75 s with the defaults). Linux's sleep: only the wall clock jumps.
    const [interval, timeout] = [15_000, 2_000];
    let received = 0;
    let written = 0;
    let deadAt = Number.NaN;
    // It writes all along: only the silence of the peer makes it ping.
    const hb: Heartbeat = new Heartbeat(
      interval,
      timeout,
      () => (written += 100),
      () => received,
      () => false,
      timesOut,
      () => {
        deadAt = Date.now();
        hb.stop();
      },
    );
    // Heard just before the sleep (counted only after the wake, as a byte in the socket would be).
    await vi.advanceTimersByTimeAsync(11_000);
    received++;
    vi.setSystemTime(Date.now() + 10_000);
    const woke = Date.now();
    await vi.advanceTimersByTimeAsync(interval + timeout + interval / 4 + 10);
    hb.stop();
    expect(deadAt - woke).toBeGreaterThan(interval);
    expect(deadAt - woke).toBeLessThanOrEqual(interval + timeout + interval / 4 + 10);
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

describe('heartbeat.checkNow()', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets an answer stand for a timeout, but not across a sleep the monotonic clock missed', async () => {
    // Linux's monotonic clock stands still while the machine is suspended: an answer heard just
    // before hours of sleep looks a moment old on waking, and taken as fresh it would spare the
    // dead connection its check. The wall clock counts the sleep.
    let pings = 0;
    const hb = new Heartbeat(
      0,
      TIMEOUT,
      () => 0,
      () => 0,
      () => false,
      async () => {
        pings++;
        return 1;
      },
      () => {},
    );
    expect(await hb.checkNow()).toBe(true);
    expect(await hb.checkNow()).toBe(true);
    expect(pings).toBe(1);
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(await hb.checkNow()).toBe(true);
    expect(pings).toBe(2);
    // A wall clock set back is no proof either.
    vi.setSystemTime(Date.now() - 3_600_000);
    expect(await hb.checkNow()).toBe(true);
    expect(pings).toBe(3);
    hb.stop();
    expect(await hb.checkNow()).toBe(false);
    expect(pings).toBe(3);
  });

  it('a silent peer: one ping for calls made together, dead after the timeout, no timer left', async () => {
    const dead = vi.fn();
    let pings = 0;
    const hb = silentPeer(dead, (t) => {
      pings++;
      return timesOut(t);
    });
    const checks = [hb.checkNow(), hb.checkNow()];
    await vi.advanceTimersByTimeAsync(TIMEOUT + 1);
    expect(await Promise.all(checks)).toEqual([false, false]);
    expect(pings).toBe(1);
    expect(dead).toHaveBeenCalledTimes(1);
    expect((dead.mock.calls[0]![0] as Error).message).toBe(`liveness check: no answer within ${TIMEOUT} ms`);
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('answers within the timeout while its own output is backed up: dead if nothing was heard', async () => {
    // The defaults. An upload filled the output, and a check (a page's wake) pinged: the ping,
    // stuck behind the upload, was excused for 2 × interval + timeout after the last byte heard,
    // and the check waited that long: 32 s here, instead of 2 s.
    const [interval, timeout] = [15_000, 2_000];
    const dead = vi.fn();
    const hb = new Heartbeat(
      interval,
      timeout,
      () => 0,
      () => 1,
      () => true,
      timesOut,
      dead,
    );
    let verdict: boolean | undefined;
    void hb.checkNow().then((v) => {
      verdict = v;
    });
    await vi.advanceTimersByTimeAsync(timeout - 1);
    expect(verdict).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    expect(verdict).toBe(false);
    expect(dead).toHaveBeenCalledTimes(1);
    expect((dead.mock.calls[0]![0] as Error).message).toBe(`liveness check: no answer within ${timeout} ms`);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a check that joins the heartbeat's excused ping answers a timeout after it was made", async () => {
    const [interval, timeout] = [15_000, 2_000];
    const dead = vi.fn();
    let pings = 0;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => 0,
      () => 1,
      () => true,
      (t) => {
        pings++;
        return timesOut(t);
      },
      dead,
    );
    // The heartbeat's ping (nothing heard for an interval) timed out and is excused.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(pings).toBe(1);
    let verdict: boolean | undefined;
    void hb.checkNow().then((v) => {
      verdict = v;
    });
    await vi.advanceTimersByTimeAsync(timeout + 1);
    expect(pings).toBe(1);
    expect(verdict).toBe(false);
    expect(dead).toHaveBeenCalledTimes(1);
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a check that joins the heartbeat's ping is not answered by bytes heard before it began", async () => {
    // The heartbeat pinged; bytes came in behind the ping; the machine slept; the connection
    // died. On waking, the page's check joined the ping under way, which timed out and was found
    // alive by those bytes: the check said alive, and the dead connection stayed up until the
    // heartbeat's next ping failed. The check now gets a ping of its own.
    const [interval, timeout] = [15_000, 2_000];
    const dead = vi.fn();
    let received = 0;
    let pings = 0;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => 0,
      () => received,
      () => false,
      (t) => {
        pings++;
        return timesOut(t);
      },
      dead,
    );
    // The heartbeat's ping (nothing heard for an interval) goes out at 18.75 s.
    await vi.advanceTimersByTimeAsync(19_000);
    expect(pings).toBe(1);
    received++;
    let verdict: boolean | undefined;
    void hb.checkNow().then((v) => {
      verdict = v;
    });
    // The shared ping times out at 20.75 s: its bytes came before the check, which pings again.
    await vi.advanceTimersByTimeAsync(1_800);
    expect(verdict).toBeUndefined();
    expect(pings).toBe(2);
    // Nothing heard by the check's deadline, 21 s.
    await vi.advanceTimersByTimeAsync(300);
    expect(verdict).toBe(false);
    expect(dead).toHaveBeenCalledTimes(1);
    hb.stop();
    await vi.advanceTimersByTimeAsync(timeout);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('while its own output is backed up, a peer heard within the timeout is alive', async () => {
    const dead = vi.fn();
    let received = 0;
    const hb = new Heartbeat(
      15_000,
      2_000,
      () => 0,
      () => received,
      () => true,
      timesOut,
      dead,
    );
    const check = hb.checkNow();
    // Its credit for the upload comes in: the ping is still behind the upload.
    setTimeout(() => received++, 1_500);
    await vi.advanceTimersByTimeAsync(2_001);
    expect(await check).toBe(true);
    expect(dead).not.toHaveBeenCalled();
    hb.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a check whose shared ping was excused and whose output drained gets a ping of its own', async () => {
    // Excused, the ping may have only just gone out when the output drains: no verdict on it.
    // The heartbeat leaves the next ping to its next check, which comes only once nothing was
    // heard for an interval; a caller waiting on checkNow() is pinged again at once instead.
    const [interval, timeout] = [1_000, 1_000];
    const dead = vi.fn();
    let pings = 0;
    let backed = true;
    const hb = new Heartbeat(
      interval,
      timeout,
      () => 0,
      () => 1,
      () => backed,
      (t) => {
        pings++;
        // The second, sent once the output drained, is answered.
        return pings === 1
          ? timesOut(t)
          : new Promise<number>((resolve) => setTimeout(() => resolve(100), 100));
      },
      dead,
    );
    // The heartbeat's ping went out at 1.25 s, timed out at 2.25 s, excused (heard at 0.25 s).
    await vi.advanceTimersByTimeAsync(2_300);
    let verdict: boolean | undefined;
    let pingsThen = 0;
    void hb.checkNow().then((v) => {
      verdict = v;
      pingsThen = pings;
    });
    backed = false;
    // Judged again at 2.5 s: drained, so a new ping, answered 0.1 s later (before the check's
    // deadline, 3.3 s).
    await vi.advanceTimersByTimeAsync(500);
    expect(verdict).toBe(true);
    expect(pingsThen).toBe(2);
    expect(dead).not.toHaveBeenCalled();
    hb.stop();
    // (The fake peer's answers still running are this test's timers, not the heartbeat's.)
    await vi.advanceTimersByTimeAsync(timeout);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('heartbeat of a node', () => {
  it('is told when bytes come, so that a wake dates them (heard())', async () => {
    // Without it, bytes heard after a wake, before the check that finds it, passed for heard
    // before the sleep, and the check pinged a peer just heard from (see above).
    const heard = vi.spyOn(Heartbeat.prototype, 'heard');
    const [a, b] = memoryPair();
    const peer = new RawPeer(b);
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 0 });
    try {
      expect(heard).not.toHaveBeenCalled();
      peer.send(Cmd.PING, 1, 0, 2, 7);
      await expect.poll(() => node.stats.bytesIn, { timeout: 2_000 }).toBeGreaterThan(0);
      expect(heard).toHaveBeenCalled();
    } finally {
      heard.mockRestore();
      node.destroy();
      b.destroy();
    }
  });

  it('closes the connection to a peer that never answers, also with every ping id in use', async () => {
    const [a, b] = memoryPair();
    // The peer reads and never answers.
    b.attach({ data: () => {}, drain: () => {}, close: () => {} });
    const node = new Node(a, { domain: 'alice', ip: 1, heartbeatInterval: 40, heartbeatTimeout: 40 });
    try {
      // Fill the ping-id table, as 65,535 outstanding (or quarantined) pings would.
      const ids = (node as unknown as { pinger: { ids: { take(): number } } }).pinger.ids;
      while (ids.take() >= 0) {}
      await expect(node.ping()).rejects.toBeInstanceOf(LimitError);
      // Before: no 'close' (the heartbeat took the LimitError for an answer).
      const err = await nextEvent<Error | undefined>(node, 'close', 2_000);
      expect(err).toBeInstanceOf(ConnectionClosedError);
      expect((err as Error).message).toMatch(/heartbeat/);
    } finally {
      node.destroy();
      b.destroy();
    }
  });
});
