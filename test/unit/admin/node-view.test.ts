import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  type InspectableNode,
  type InspectableSession,
  validateAdminOptions,
} from '../../../src/admin/config.js';
import { delta } from '../../../src/admin/delta.js';
import { NodePanel } from '../../../src/admin/node-panel.js';
import { NodeView } from '../../../src/admin/node-view.js';
import type { RateBook } from '../../../src/admin/rates.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * The parts of a node NodeView's counters read; its counters are set by the test. Its pages are
 * of `streamList()` (which a test may replace), in serial order, as a node's are.
 */
function fakeNode(): InspectableNode & { stats: { bytesIn: number; framesIn: number } } {
  return {
    ip: 1,
    domain: 'a',
    closed: false,
    streamCount: 0,
    stats: { framesIn: 0, bytesIn: 0, dropped: 0, streamsOpened: 0, streamsAccepted: 0 },
    scheduler: { bytesWritten: 0, controlLength: 0 },
    transport: { remoteAddress: 'memory' },
    options: { pingTimeout: 1000 },
    streamList: () => [],
    streamPage(after, skip, limit, keep) {
      const rest = this.streamList().filter((s) => s.serial > after && (keep === undefined || keep(s)));
      return rest.sort((a, b) => a.serial - b.serial).slice(skip, skip + limit);
    },
    streamsAdded: 0,
    listenerPorts: () => [],
    ping: () => Promise.reject(new Error('not in this test')),
  };
}

describe('admin node view', () => {
  it('counts what a connection received after the last sample when the session moves on', () => {
    const first = fakeNode();
    const session = {
      node: first as InspectableNode | null,
      state: 'ready',
      domain: 'a',
      connections: 1,
      on: () => session,
      off: () => session,
    } as unknown as InspectableSession & { node: InspectableNode | null };
    const view = new NodeView(session, null, 10, 10);

    first.stats.bytesIn = 100;
    first.stats.framesIn = 1;
    expect(view.counters().bytesIn).toBe(100);
    // More arrives on the first connection, then it drops before anything samples again.
    first.stats.bytesIn = 150;
    first.stats.framesIn = 2;
    session.node = null;
    expect(view.counters()).toMatchObject({ bytesIn: 150, framesIn: 2 });

    const second = fakeNode();
    second.stats.bytesIn = 10;
    session.node = second;
    expect(view.counters()).toMatchObject({ bytesIn: 160, framesIn: 2 });
  });

  it('counts a connection that came and went between two samples', () => {
    // A session as the admin reads it: its node, and 'state' events as connections come and go.
    const session = Object.assign(new EventEmitter(), {
      node: null as InspectableNode | null,
      state: 'connecting',
      domain: 'a',
      connections: 0,
    });
    const move = (n: InspectableNode | null, state: string): void => {
      session.node = n;
      session.state = state;
      session.emit('state', state);
    };
    const target = session as unknown as InspectableSession;
    const panel = new NodePanel(
      target,
      validateAdminOptions({ node: target, pingInterval: 0 }),
      new Registry(),
      silentLogger,
    );
    const view = panel.view;
    try {
      const first = fakeNode();
      move(first, 'ready');
      first.stats.bytesIn = 100;
      expect(view.counters().bytesIn).toBe(100);
      // A second connection is admitted, receives 30 bytes and drops before the next sample.
      first.stats.bytesIn = 150;
      move(null, 'connecting');
      const second = fakeNode();
      move(second, 'ready');
      second.stats.bytesIn = 30;
      move(null, 'connecting');
      const third = fakeNode();
      move(third, 'ready');
      third.stats.bytesIn = 5;
      expect(view.counters().bytesIn).toBe(185);
    } finally {
      panel.close();
    }
    expect(session.listenerCount('state')).toBe(0);
  });

  it('builds views only of the streams a snapshot shows, and totals all of them', () => {
    let built = 0;
    /** A stream as the view reads it; reading its createdAt means a view of it was built. */
    const stream = (key: number) => ({
      key,
      serial: 100 + key,
      local: { ip: 1, port: key, domain: 'a' },
      remote: { ip: 2, port: 80, domain: 'b' },
      dialed: true,
      state: 'open',
      window: 1024,
      sendCredit: 1024,
      halfCloseNegotiated: true,
      resetNegotiated: true,
      receiveBuffered: key,
      writeBuffered: 10 * key,
      bytesRead: 0,
      bytesWritten: 0,
      get createdAt() {
        built++;
        return 0;
      },
      lastActivity: 0,
    });
    const list = [1, 2, 3, 4, 5].map(stream);
    const node = { ...fakeNode(), streamList: () => list } as unknown as InspectableNode;
    const view = new NodeView(node, null, 10, 10);
    view.tick(1000, 1000);
    const snap = view.snapshot(2);
    expect(snap.streams.map((s) => s.id)).toEqual([1, 2]);
    expect(snap.omitted).toBe(3);
    expect(snap.totals).toMatchObject({ streams: 5, receiveBuffered: 15, writeBuffered: 150 });
    expect(built).toBe(2);
    expect(Object.keys(view.streamHistory(snap.streams))).toEqual(['101', '102']);
  });

  it('keeps sparkline histories only for the streams a snapshot lists, and keys deltas by serial', () => {
    const stream = (key: number) => ({
      key,
      serial: 100 + key,
      local: { ip: 1, port: key, domain: 'a' },
      remote: { ip: 2, port: 80, domain: 'b' },
      state: 'open',
      bytesRead: key,
      bytesWritten: 0,
      createdAt: 0,
      lastActivity: 0,
    });
    const list = [1, 2, 3, 4, 5].map(stream);
    const node = { ...fakeNode(), streamList: () => list } as unknown as InspectableNode;
    const o = validateAdminOptions({ node, pingInterval: 0, maxSnapshotItems: 2 });
    const panel = new NodePanel(node, o, new Registry(), silentLogger);
    try {
      panel.tick(0, 1000);
      for (const s of list) s.bytesRead += 100;
      panel.tick(1000, 2000);
      // Every stream is rated; the first two (those a snapshot lists) keep a history.
      const book = (panel.view as unknown as { book: RateBook<unknown> }).book;
      expect(list.map((s) => book.get(s)?.series?.size ?? null)).toEqual([1, 1, null, null, null]);
      expect(list.map((s) => book.get(s)?.rateIn)).toEqual([100, 100, 100, 100, 100]);
      expect([...panel.keyed(panel.snapshot()).items.keys()]).toEqual(['101', '102']);
    } finally {
      panel.close();
    }
  });

  it('pages streams by serial number, also when the node lists them out of order', () => {
    // A rebound stream (a dial answered from another address) moves to the end of the node's
    // list: serials 1..6, with 2 and 4 rebound, and 5 to another peer.
    const stream = (serial: number, peer = 'b') => ({
      key: 100 + serial,
      serial,
      remoteDomain: peer,
      local: { ip: 1, port: serial, domain: 'a' },
      remote: { ip: 2, port: 80, domain: peer },
      createdAt: 0,
      lastActivity: 0,
    });
    const list = [1, 3, 5, 6, 2, 4].map((n) => stream(n, n === 5 ? 'c' : 'b'));
    const node = { ...fakeNode(), streamCount: 6, streamList: () => list } as unknown as InspectableNode;
    const view = new NodeView(node, null, 10, 10);
    const read = (domain?: string) => {
      const seen: number[] = [];
      let page = view.streams(domain, { offset: 0, limit: 2 });
      for (let n = 0; n < 10; n++) {
        seen.push(...page.streams.map((v) => v.local.port));
        if (page.next === null) break;
        expect(page.count).toBe(domain === undefined ? 6 : 5);
        page = view.streams(domain, { offset: 0, limit: 2, after: Number(page.next) });
      }
      return seen;
    };
    expect(read()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(read('b')).toEqual([1, 2, 3, 4, 6]);
    // An offset counts in the same order.
    expect(view.streams(undefined, { offset: 3, limit: 2 }).streams.map((v) => v.local.port)).toEqual([4, 5]);
  });

  it('tells a stream that closed from a new one between the same ports, in deltas and histories', () => {
    // The new stream has the old one's id (the node's key: the same addresses and ports), as a
    // later stream between the same ports has, e.g. the first dial of a session's next connection.
    const stream = (serial: number) => ({
      key: 7,
      serial,
      local: { ip: 1, port: 7, domain: 'a' },
      remote: { ip: 2, port: 80, domain: 'b' },
      state: 'open',
      bytesRead: 0,
      bytesWritten: 0,
      createdAt: serial * 1000,
      lastActivity: 0,
    });
    let list = [stream(1)];
    const node = { ...fakeNode(), streamList: () => list } as unknown as InspectableNode;
    const panel = new NodePanel(
      node,
      validateAdminOptions({ node, pingInterval: 0 }),
      new Registry(),
      silentLogger,
    );
    try {
      panel.tick(0, 1000);
      const before = panel.keyed(panel.snapshot());
      // Between two samples the stream closes and the new one opens.
      list = [stream(2)];
      list[0].bytesRead = 100;
      panel.tick(1000, 2000);
      const snap = panel.snapshot() as { streams: Record<string, unknown>[] };
      const d = delta(before, panel.keyed(snap));
      // One removal and one addition, the new stream whole: not field changes of the old one.
      expect(d.gone).toEqual(['1']);
      expect(Object.keys(d.set)).toEqual(['2']);
      expect(d.set['2']).toEqual(snap.streams[0]);
      expect(snap.streams[0]).toMatchObject({ id: 7, serial: 2 });
      // Its sparkline history is its own, under the same key.
      const hello = panel.hello(snap) as { itemHistory: Record<string, unknown> };
      expect(Object.keys(hello.itemHistory)).toEqual(['2']);
    } finally {
      panel.close();
    }
  });
});
