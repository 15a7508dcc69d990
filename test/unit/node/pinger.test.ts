import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaults } from '../../../src/config.js';
import { AbortError, TimeoutError } from '../../../src/errors.js';
import { type PingAgain, Pinger } from '../../../src/node/pinger.js';
import type { Deque } from '../../../src/util/deque.js';

/** Ping ids (the request's source port) are matched to answers: a late answer must find no one. */
describe('pinger ids', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs every other id through a ping that is answered, so that ids come from the free list. */
  async function useUpSequentialIds(pinger: Pinger, sent: number[]): Promise<void> {
    const answered: Promise<number>[] = [];
    const first = sent.length;
    while (sent.length < 0xffff) answered.push(pinger.start((id) => sent.push(id), 1_000));
    for (const id of sent.slice(first)) pinger.complete(id, '');
    await Promise.all(answered);
  }

  it('does not hand the id of a ping that timed out or was aborted to the next ping at once', async () => {
    // The answer to a ping that gave up can still come (a slow switcher): with its id reused, it
    // completed the next ping with the wrong round trip, or a ping of another domain with the
    // wrong verdict.
    const pinger = new Pinger();
    const sent: number[] = [];
    const ac = new AbortController();
    const aborted = pinger.start((id) => sent.push(id), 1_000, ac.signal);
    const timedOut = pinger.start((id) => sent.push(id), 500);
    const [abortedId, timedOutId] = sent;
    await useUpSequentialIds(pinger, sent);
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    // The rejection handler goes on before the clock moves, or the timeout is an unhandled rejection.
    const timedOutFails = expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(500);
    await timedOutFails;

    const next = pinger.start((id) => sent.push(id), 1_000);
    const nextId = sent[sent.length - 1];
    expect([abortedId, timedOutId]).not.toContain(nextId);
    // The late answers find nobody; the new ping still waits for its own.
    expect(pinger.complete(abortedId!, '')).toBe(false);
    expect(pinger.complete(timedOutId!, 'domain not found')).toBe(false);
    expect(pinger.complete(nextId!, '')).toBe(true);
    await expect(next).resolves.toBeGreaterThanOrEqual(0);

    // After the quarantine (the node's retention) the ids are handed out again, in their turn.
    await vi.advanceTimersByTimeAsync(defaults.retention);
    const later: number[] = [];
    while (later.length <= 0xffff) {
      const p = pinger.start((id) => later.push(id), 1_000);
      pinger.complete(later[later.length - 1]!, '');
      await p;
    }
    expect(later).toContain(abortedId);
    expect(later).toContain(timedOutId);
  });

  it('sends a ping again under the same id, and keeps that id out of use after the first answer', async () => {
    // The heartbeat's ping out across a sleep is sent again (heartbeat.ts repingAfterWake()), and
    // the peer may answer both requests: the second answer must not complete a later ping.
    const pinger = new Pinger();
    const sent: number[] = [];
    const again: PingAgain = {};
    const first = pinger.start((id) => sent.push(id), 500, undefined, undefined, again);
    await vi.advanceTimersByTimeAsync(400);
    expect(again.resend?.(500)).toBe(true);
    expect(sent).toEqual([sent[0], sent[0]]);
    expect(pinger.size).toBe(1);
    // The timeout runs from the request sent again: not over at 500 ms.
    await vi.advanceTimersByTimeAsync(200);
    expect(pinger.complete(sent[0]!, '')).toBe(true);
    await expect(first).resolves.toBeGreaterThanOrEqual(0);
    expect(again.resend?.(500)).toBe(false);
    await useUpSequentialIds(pinger, sent);
    // Every other id came round, the answered one did not: the other answer finds nobody.
    expect(sent.slice(2)).not.toContain(sent[0]);
    expect(pinger.complete(sent[0]!, '')).toBe(false);
  });

  it('hands the id of a ping that gave up to a later ping only after every other free id', async () => {
    // A peer or path slow enough to answer after the ping's timeout and the quarantine behind
    // it: once the first 65,535 ids had been handed out (hours of a node's RTT pings), the pool
    // gave the most recently freed id first, so the very next ping took the quarantined one, and
    // the late answer completed it with the wrong round trip, or a ping of another domain with
    // the wrong verdict.
    const pinger = new Pinger();
    const sent: number[] = [];
    await useUpSequentialIds(pinger, sent);
    const slow = pinger.start((id) => sent.push(id), 500);
    const slowId = sent[sent.length - 1]!;
    const slowFails = expect(slow).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(500 + defaults.retention);
    await slowFails;
    const next = pinger.start((id) => sent.push(id), 1_000);
    const nextId = sent[sent.length - 1]!;
    expect(nextId).not.toBe(slowId);
    expect(pinger.complete(slowId, 'domain not found')).toBe(false);
    expect(pinger.complete(nextId, '')).toBe(true);
    await expect(next).resolves.toBeGreaterThanOrEqual(0);
  });

  it('lets go of the quarantine rings once a mass timeout has cooled down', async () => {
    // Every ping of a node timing out at once (a switcher gone silent under a busy admin RTT
    // round, a script pinging in a loop) put each id in quarantine: the two rings grew to hold
    // them, and kept those slots (~1 MiB at 65,535 ids) for the node's life once emptied.
    const pinger = new Pinger();
    const sent: number[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < 2_000; i++) pinger.start((id) => sent.push(id), 500).catch((e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(500);
    expect(errors).toHaveLength(2_000);
    expect(errors.every((e) => e instanceof TimeoutError)).toBe(true);
    const rings = pinger as unknown as { cooling: Deque<number>; coolUntil: Deque<number> };
    expect(rings.cooling.length).toBe(2_000);
    await vi.advanceTimersByTimeAsync(defaults.retention);
    const next = pinger.start((id) => sent.push(id), 1_000);
    expect(rings.cooling.length).toBe(0);
    expect(rings.cooling.capacity).toBeLessThanOrEqual(256);
    expect(rings.coolUntil.capacity).toBeLessThanOrEqual(256);
    pinger.complete(sent[sent.length - 1]!, '');
    await next;
  });

  it('pings sharing one signal listen to it through one listener', async () => {
    // A node's admin RTT round pings its switcher and up to 16 peer domains at once, all with the
    // probe's signal. Before: a listener each, and Node.js warned of a leak at the eleventh.
    const pinger = new Pinger();
    const ac = new AbortController();
    const sent: number[] = [];
    const pings = Array.from({ length: 12 }, () => pinger.start((id) => sent.push(id), 1_000, ac.signal));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    // Each ping still hears the abort, and an answered one lets go of its part.
    pinger.complete(sent[0]!, '');
    await pings[0];
    ac.abort();
    for (const p of pings.slice(1)) await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const again = new AbortController();
    const answered = pinger.start((id) => sent.push(id), 1_000, again.signal);
    pinger.complete(sent[sent.length - 1]!, '');
    await answered;
    expect(getEventListeners(again.signal, 'abort')).toHaveLength(0);
  });
});
