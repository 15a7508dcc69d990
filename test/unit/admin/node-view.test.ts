import { describe, expect, it } from 'vitest';
import type { InspectableNode, InspectableSession } from '../../../src/admin/config.js';
import { NodeView } from '../../../src/admin/node-view.js';

/** The parts of a node NodeView's counters read; its counters are set by the test. */
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
});
