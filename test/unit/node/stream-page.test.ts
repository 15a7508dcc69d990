import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, type FlexStream } from '../../../src/index.js';
import { useSerialIndex } from '../../../src/node/node.js';
import { indexStreamsBySerial } from '../../../src/node/serial-index.js';
import { Cmd } from '../../../src/wire/constants.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen } from '../../../src/wire/open.js';
import { rawLink } from '../../helpers/raw.js';

/**
 * streamPage() without the serial index (the browser build, where no admin installs it) gives the
 * pages the index gives: live streams by serial after the cursor, kept, skipped, limited.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  indexStreamsBySerial();
});

describe('streamPage() without the serial index', () => {
  it('gives the pages the index gives', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s) => accepted.push(s));
    raw.sendAll(
      Array.from({ length: 40 }, (_, i) =>
        makeFrame(Cmd.OPEN, 1, 80, 2, 5000 + i, encodeOpen({ domain: 'p', window: 0 })),
      ),
    );
    await vi.waitFor(() => expect(accepted).toHaveLength(40));
    // Some end: the pages skip them.
    for (const s of accepted.filter((_, i) => i % 5 === 0)) s.destroy();
    await vi.waitFor(() => expect(node.streamCount).toBe(32));
    const serials = node
      .streamList()
      .map((s) => s.serial)
      .sort((a, b) => a - b);
    const odd = (s: { remote: { port: number } }) => s.remote.port % 2 === 1;
    const asks: [number, number, number, ((s: { remote: { port: number } }) => boolean) | undefined][] = [
      [0, 0, 10, undefined],
      [serials[7]!, 0, 5, undefined],
      [serials[7]!, 3, 5, undefined],
      [0, 2, 4, odd],
      [serials[20]!, 0, 100, odd],
      [serials[31]!, 0, 10, undefined],
    ];
    useSerialIndex(null);
    const sorted = asks.map(([after, skip, limit, keep]) => node.streamPage(after, skip, limit, keep));
    indexStreamsBySerial();
    const indexed = asks.map(([after, skip, limit, keep]) => node.streamPage(after, skip, limit, keep));
    expect(sorted).toEqual(indexed);
    expect(sorted.map((p) => p.length)).toEqual([10, 5, 5, 4, 6, 0]);
    expect(sorted[1]!.map((s) => s.serial)).toEqual(serials.slice(8, 13));
  });
});

describe('streamPage() keep', () => {
  it('refuses a keep that is no function at the call, with or without streams', () => {
    const { node } = rawLink({ heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const keep = 5 as unknown as () => boolean;
    // No streams: nothing was filtered, so the bad keep went unnoticed.
    for (const index of [false, true]) {
      useSerialIndex(null);
      if (index) indexStreamsBySerial();
      expect(node.streamCount).toBe(0);
      expect(() => node.streamPage(0, 0, 10, keep)).toThrow(ConfigError);
      expect(() => node.streamPage(0, 0, 10, keep)).toThrow('streamPage() keep must be a function, got 5');
    }
    expect(node.streamPage(0, 0, 10, undefined)).toEqual([]);
  });
});
