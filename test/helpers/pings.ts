import { expect } from 'vitest';
import type { FlexStream } from '../../src/index.js';
import { once, sha256, writeAll } from './streams.js';

/** One echo round trip on `ping`: everything either side queued before it has been handled. */
export async function roundTrip(ping: FlexStream, text = 'ping'): Promise<void> {
  const back = once<Buffer>(ping, 'data');
  ping.write(text);
  expect((await back).toString()).toBe(text);
}

/** The writer's unacknowledged bytes on a stream. */
export const inflight = (s: FlexStream): number => s.core.window - s.core.sendCredit;

/** What the writer of `s` has sent and does not know to have arrived (sharedInflight bounds it). */
export const onTheWay = (s: FlexStream): number => s.core.bytesOnTheWay;

/**
 * Sends `data` on `bulk` while `ping` does echo round trips; checks it arrives intact at `sink` (the
 * other end of `bulk`) and returns the most bytes `bulk` had on their way (sent, not known to have
 * arrived) at any round trip or any chunk `sink` received. (Round trips alone could miss them: on
 * a memory link a transfer can take a single one, sampled when nothing happened to be on the way.)
 */
export async function transferBesidePings(
  s: { ping: FlexStream; bulk: FlexStream; sink: FlexStream },
  data: Uint8Array,
): Promise<number> {
  const chunks: Buffer[] = [];
  let maxOnTheWay = 0;
  s.sink.on('data', (d: Buffer) => {
    chunks.push(d);
    maxOnTheWay = Math.max(maxOnTheWay, onTheWay(s.bulk));
  });
  const ended = once(s.sink, 'end');
  let pinging = true;
  const pings = (async () => {
    for (let i = 0; pinging; i++) {
      await roundTrip(s.ping, `p${i}`);
      maxOnTheWay = Math.max(maxOnTheWay, onTheWay(s.bulk));
      // A memory link delivers in microtasks: a ping loop must leave the event loop a turn.
      await new Promise((r) => setImmediate(r));
    }
  })();
  await writeAll(s.bulk, data, 48 * 1024);
  await ended;
  pinging = false;
  await pings;
  expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  return maxOnTheWay;
}
