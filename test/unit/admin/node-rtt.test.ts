import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type InspectableNode,
  type InspectableSession,
  validateAdminOptions,
} from '../../../src/admin/config.js';
import { NodePanel } from '../../../src/admin/node-panel.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * A node admin's RTT: the histogram's series exist at 0 before the first ping (as the switcher's
 * refusal reasons do), and a session's new connection is pinged at once, not a whole
 * pingInterval later. Fake timers: nothing here waits on the clock.
 */

/** The parts of a node the panel reads; `ping` answers in 2 ms and counts its calls. */
function fakeNode(pings: string[]): InspectableNode {
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
    streamPage: () => [],
    streamsAdded: 0,
    listenerPorts: () => [],
    ping: (domain: string) => {
      pings.push(domain);
      return Promise.resolve(2);
    },
  } as unknown as InspectableNode;
}

/** A session as the admin reads it: its node, and 'state' events as connections come and go. */
function fakeSession() {
  const session = Object.assign(new EventEmitter(), {
    node: null as InspectableNode | null,
    state: 'connecting',
    domain: 'a',
    connections: 0,
    listenerPorts: () => [],
  });
  const move = (n: InspectableNode | null, state: string): void => {
    session.node = n;
    session.state = state;
    session.emit('state', state);
  };
  return { session, target: session as unknown as InspectableSession, move };
}

const rttCounts = async (registry: Registry): Promise<Record<string, string>> => {
  const out: Record<string, string> = {};
  for (const l of (await registry.metrics()).split('\n')) {
    const m = /^flexmux_node_rtt_seconds_count\{target="(\w+)"\} (\d+)$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
};

const panels: NodePanel[] = [];
afterEach(() => {
  for (const p of panels.splice(0)) p.close();
  vi.useRealTimers();
});

describe('node admin RTT', () => {
  it('serves flexmux_node_rtt_seconds for both targets at 0 before any ping', async () => {
    const { target } = fakeSession();
    const registry = new Registry();
    panels.push(new NodePanel(target, validateAdminOptions({ node: target }), registry, silentLogger));
    expect(await rttCounts(registry)).toEqual({ switcher: '0', peer: '0' });
  });

  it("pings a session's new connection at once, not a pingInterval later", async () => {
    vi.useFakeTimers();
    const { session, target, move } = fakeSession();
    const registry = new Registry();
    const panel = new NodePanel(
      target,
      validateAdminOptions({ node: target, pingInterval: 60_000 }),
      registry,
      silentLogger,
    );
    panels.push(panel);
    const pings: string[] = [];
    // The first round, at start, finds the session still connecting: nothing to ping.
    await vi.advanceTimersByTimeAsync(10);
    expect(pings).toEqual([]);
    move(fakeNode(pings), 'ready');
    await vi.advanceTimersByTimeAsync(10);
    expect(pings).toEqual(['']);
    expect((panel.info() as { totals: { rttMs: number | null } }).totals.rttMs).toBe(2);
    expect(await rttCounts(registry)).toEqual({ switcher: '1', peer: '0' });
    // A reconnection is pinged at once too, also while a round is in flight (its ping unanswered).
    let answer: (ms: number) => void = () => {};
    const slow = fakeNode(pings);
    slow.ping = (domain: string) => {
      pings.push(domain);
      return new Promise<number>((resolve) => {
        answer = resolve;
      });
    };
    move(slow, 'ready');
    await vi.advanceTimersByTimeAsync(10);
    expect(pings).toEqual(['', '']);
    move(null, 'connecting');
    move(fakeNode(pings), 'ready');
    answer(3);
    await vi.advanceTimersByTimeAsync(10);
    expect(pings).toEqual(['', '', '']);
    expect(session.listenerCount('state')).toBeGreaterThan(0);
    panel.close();
    panels.length = 0;
    expect(session.listenerCount('state')).toBe(0);
  });
});
