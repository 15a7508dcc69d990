import { describe, expect, it } from 'vitest';
import type { EventHub } from '../../../src/admin/events.js';
import { Feed } from '../../../src/admin/feed.js';
import type { Panel } from '../../../src/admin/panel.js';
import type { Context } from '../../../src/admin/router.js';

/**
 * The hello of the delta streams opened between two samples is built and serialised once: each
 * dashboard that (re)connected built its own before, a whole snapshot's worth of JSON each.
 */

/** A hub that opens every stream at once, keeping the text of each stream's first messages. */
function fakeHub() {
  const opened: string[] = [];
  const hub = {
    size: 0,
    count: () => hub.size,
    send: () => {},
    open: (_req: unknown, _res: unknown, first: () => readonly (string | readonly [string, unknown])[]) => {
      hub.size++;
      opened.push(
        first()
          .map((m) => (typeof m === 'string' ? m : JSON.stringify(m)))
          .join(''),
      );
    },
  };
  return { hub: hub as unknown as EventHub, opened };
}

/** A panel whose samples count up, counting its hellos. */
function fakePanel() {
  const calls = { hello: 0 };
  let t = 0;
  const panel = {
    hello: (snapshot?: unknown) => {
      calls.hello++;
      return { history: t, snapshot };
    },
    snapshot: () => ({ t: ++t }),
    keyed: (s: unknown) => ({ t: (s as { t: number }).t, totals: {}, omitted: 0, items: new Map() }),
  };
  return { panel: panel as unknown as Panel, calls };
}

const ctx = (query: string) => ({ url: new URL(`http://127.0.0.1/api/v1/events?${query}`) }) as Context;

describe('the event feed', () => {
  it('builds the hello of the delta streams opened between two samples once', () => {
    const { hub, opened } = fakeHub();
    const { panel, calls } = fakePanel();
    const feed = new Feed(panel, hub);
    for (let i = 0; i < 5; i++) feed.open(ctx('delta=1'));
    expect(calls.hello).toBe(1);
    expect(new Set(opened).size).toBe(1);
    expect(opened[0]).toContain('event: hello\ndata: {"history":1,"snapshot":{"t":1}}');

    // After a sample, the hello carries that sample's snapshot and history.
    feed.sample();
    feed.open(ctx('delta=1'));
    feed.open(ctx('delta=1'));
    expect(calls.hello).toBe(2);
    expect(opened.at(-1)).toContain('data: {"history":2,"snapshot":{"t":2}}');
    expect(opened.at(-2)).toBe(opened.at(-1));
  });

  it('builds one hello for the streams without ?delta=1 too, shared with the delta ones', () => {
    const { hub, opened } = fakeHub();
    const { panel, calls } = fakePanel();
    const feed = new Feed(panel, hub);
    for (let i = 0; i < 3; i++) feed.open(ctx(''));
    feed.open(ctx('delta=1'));
    expect(calls.hello).toBe(1);
    expect(new Set(opened).size).toBe(1);
    expect(opened[0]).toContain('event: hello\ndata: {"history":1,"snapshot":{"t":1}}');

    // The next sample's hello is new: its history and snapshot.
    feed.sample();
    feed.open(ctx(''));
    expect(calls.hello).toBe(2);
    expect(opened.at(-1)).toContain('data: {"history":2,"snapshot":{"t":2}}');
  });
});
