import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream } from '../../../src/index.js';
import { rawLink } from '../../helpers/raw.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * maxControlQueue bounds the control frames waiting for a peer that does not read. A node's
 * loopback (dials to itself) has no such peer: its writer hands every frame straight back and
 * runs each tick, so only a busy tick can fill it, and a LimitError there failed healthy work.
 */
describe('loopback control queue', () => {
  it('takes more self-dials and resets in one tick than maxControlQueue', async () => {
    const { node, raw } = rawLink({ maxControlQueue: 16, heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s: FlexStream) => {
      accepted.push(s);
      s.on('error', () => {});
    });
    const dials = await Promise.allSettled(Array.from({ length: 40 }, () => node.dial('local:80')));
    const failed = dials.filter((d) => d.status === 'rejected').map((d) => String(d.reason));
    expect(failed).toEqual([]);
    const streams = dials.map((d) => (d as PromiseFulfilledResult<FlexStream>).value);
    const closed = streams.map((s) => new Promise((r) => s.once('close', r)));
    // 40 resets (control frames) in one tick, each from a loopback stream
    for (const s of streams) s.destroy();
    await Promise.all(closed);
    expect(streams.every((s) => s.destroyed)).toBe(true);
    expect(node.closed).toBe(false);
    expect(raw.frames.length).toBe(0);
  });
});
