import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InspectableNode, InspectableSession } from '../../../src/admin/config.js';
import { createRegistry } from '../../../src/admin/metrics.js';
import { nodeMetrics } from '../../../src/admin/node-metrics.js';
import { NodeView } from '../../../src/admin/node-view.js';
import type { FlexStream } from '../../../src/index.js';
import { StreamCore } from '../../../src/stream/core.js';
import { Cmd } from '../../../src/wire/constants.js';
import { encodeOpen } from '../../../src/wire/open.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { rawLink } from '../../helpers/raw.js';

/**
 * Counters of a node's that /metrics did not serve: flexmux_node_internal_errors_total (a bug of
 * ours closes the node's connection, logged at error, and a session reconnects and looks healthy
 * again) and flexmux_node_opens_refused_total (a flood of opens or dialers refused showed only in
 * the debug log).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0)) await c();
});

const sample = (text: string, name: string): string | undefined =>
  text.split('\n').find((l) => l.startsWith(`${name} `));

describe('node /metrics: flexmux_node_opens_refused_total', () => {
  it('counts the opens the node refused, from 0', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    const registry = createRegistry('node', false);
    const view = new NodeView(node, null, 10, 10);
    cleanups.push(() => view.close());
    nodeMetrics(registry, view, null);
    const count = async () => sample(await registry.metrics(), 'flexmux_node_opens_refused_total');
    expect(await count()).toBe('flexmux_node_opens_refused_total 0');
    // Nothing listens on port 81: both are refused with an error ACK.
    for (const port of [5000, 5001]) {
      raw.send(Cmd.OPEN, 1, 81, 2, port, encodeOpen({ domain: 'raw', window: 65536 }));
      await raw.next((f) => f.cmd === Cmd.OPEN_ACK && f.dstPort === port);
    }
    expect(await count()).toBe('flexmux_node_opens_refused_total 2');
  });
});

describe('node /metrics: flexmux_node_internal_errors_total', () => {
  it('counts the connection a bug of ours closed, from 0', async () => {
    const { node, raw } = rawLink({ heartbeatInterval: 0, logger: captureLogger() });
    cleanups.push(() => node.destroy());
    const registry = createRegistry('node', false);
    const view = new NodeView(node, null, 10, 10);
    cleanups.push(() => view.close());
    nodeMetrics(registry, view, null);
    const count = async () => sample(await registry.metrics(), 'flexmux_node_internal_errors_total');
    expect(await count()).toBe('flexmux_node_internal_errors_total 0');
    const accepted: FlexStream[] = [];
    node.listen(80).on('stream', (s) => accepted.push(s));
    raw.send(Cmd.OPEN, 1, 80, 2, 5000, encodeOpen({ domain: 'raw', window: 65536 }));
    await vi.waitFor(() => expect(accepted).toHaveLength(1));
    accepted[0]!.on('error', () => {});
    vi.spyOn(StreamCore.prototype, 'onData').mockImplementation(() => {
      throw new TypeError('flexmux bug');
    });
    const closed = new Promise<unknown>((r) => node.once('close', r));
    raw.send(Cmd.DATA, 1, 80, 2, 5000, new TextEncoder().encode('data'));
    await closed;
    expect(await count()).toBe('flexmux_node_internal_errors_total 1');
  });

  it("keeps a session's count across its reconnections", async () => {
    const fake = (internalErrors: number): InspectableNode =>
      ({
        closed: false,
        stats: {
          framesIn: 0,
          bytesIn: 0,
          dropped: 0,
          streamsOpened: 0,
          streamsAccepted: 0,
          openRefused: 3,
          internalErrors,
        },
        scheduler: { bytesWritten: 0, controlLength: 0 },
        streamList: () => [],
        listenerPorts: () => [],
      }) as unknown as InspectableNode;
    const session = {
      node: fake(1) as InspectableNode | null,
      on: () => session,
      off: () => session,
      listenerPorts: () => [],
    } as unknown as InspectableSession & { node: InspectableNode | null };
    const view = new NodeView(session, null, 10, 10);
    const registry = createRegistry('node', false);
    nodeMetrics(registry, view, null);
    const count = async () => sample(await registry.metrics(), 'flexmux_node_internal_errors_total');
    expect(await count()).toBe('flexmux_node_internal_errors_total 1');
    // The session reconnects: the node that failed is gone, its count stays.
    session.node = null;
    expect(await count()).toBe('flexmux_node_internal_errors_total 1');
    session.node = fake(1);
    expect(await count()).toBe('flexmux_node_internal_errors_total 2');
    expect(sample(await registry.metrics(), 'flexmux_node_opens_refused_total')).toBe(
      'flexmux_node_opens_refused_total 6',
    );
  });
});
