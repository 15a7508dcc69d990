import { Histogram, type Registry } from 'prom-client';
import { one, RTT_BUCKETS, readCounter, readGauge } from './metrics.js';
import { RTT_TARGETS, type RttProbe } from './node-rtt.js';
import type { NodeView } from './node-view.js';

/**
 * Every place the node counts a frame in `stats.dropped` (node.ts), named: it said "no known
 * stream or an unknown command", and the ACKs it drops and the data held ahead of an ACK that a
 * dial never used counted unexplained.
 */
const NODE_DROPPED_HELP =
  'Frames received and not used: data for no stream the node has; a frame with an unknown command; a duplicate OpenStream ACK, or one from elsewhere than the dial went; and frames sent ahead of an OpenStream ACK and held for the dial that it never took (the dial refused, timed out or failed as the connection closed, its ACK naming a stream already open, or the ACK coming from another address than the frames).';

/** A node's Prometheus series (names listed in docs/admin.md); totals span reconnections. */
export function nodeMetrics(registry: Registry, view: NodeView, rtt: RttProbe | null): void {
  const r = registry;
  const none: readonly never[] = [];
  readGauge(r, 'flexmux_node_connected', '1 while the node has a live connection.', none, () => {
    const n = view.current;
    return one(n !== null && !n.closed ? 1 : 0);
  });
  readCounter(r, 'flexmux_node_connections_total', 'Successful admissions of the session.', none, () =>
    one(view.session?.connections ?? (view.current === null ? 0 : 1)),
  );
  readGauge(r, 'flexmux_node_streams', 'Streams open now.', none, () => one(view.current?.streamCount ?? 0));
  readGauge(r, 'flexmux_node_listeners', 'Virtual ports listened on now.', none, () =>
    one(view.listenerPorts().length),
  );
  readCounter(r, 'flexmux_node_streams_opened_total', 'Streams opened, by who opened them.', ['side'], () => {
    const c = view.counters();
    return [
      [{ side: 'dialed' }, c.streamsOpened],
      [{ side: 'accepted' }, c.streamsAccepted],
    ];
  });
  readCounter(
    r,
    'flexmux_node_bytes_total',
    'Bytes received and sent on the connection.',
    ['direction'],
    () => {
      const c = view.counters();
      return [
        [{ direction: 'in' }, c.bytesIn],
        [{ direction: 'out' }, c.bytesOut],
      ];
    },
  );
  readCounter(r, 'flexmux_node_frames_received_total', 'Frames received.', none, () =>
    one(view.counters().framesIn),
  );
  readCounter(r, 'flexmux_node_frames_dropped_total', NODE_DROPPED_HELP, none, () =>
    one(view.counters().dropped),
  );
  // A peer's dials this node turns away leave its streams and listeners as they were: only the
  // debug log said a service was being flooded, or its dialers refused.
  readCounter(
    r,
    'flexmux_node_opens_refused_total',
    'Streams the peer opened that this node refused: no listener, backlog full, limits, duplicate.',
    none,
    () => one(view.moreCounters().openRefused),
  );
  // A bug of ours closes the connection, logged at error with its stack; a session reconnects
  // and looks healthy again, so without this only the log said it happened.
  readCounter(
    r,
    'flexmux_node_internal_errors_total',
    'Faults of flexmux’s own that closed a connection or threw as one closed (internal error handling a frame, internal error closing the node; logged at error with the stack).',
    none,
    () => one(view.moreCounters().internalErrors),
  );
  readGauge(r, 'flexmux_node_buffered_bytes', 'Stream bytes buffered, by direction.', ['direction'], () => {
    let receive = 0;
    let write = 0;
    for (const s of view.current?.streamList() ?? []) {
      receive += s.receiveBuffered;
      write += s.writeBuffered;
    }
    return [
      [{ direction: 'receive' }, receive],
      [{ direction: 'write' }, write],
    ];
  });
  readGauge(r, 'flexmux_node_control_queue', 'Control frames waiting for the connection.', none, () =>
    one(view.current?.scheduler.controlLength ?? 0),
  );
  if (rtt !== null) {
    const h = new Histogram({
      name: 'flexmux_node_rtt_seconds',
      help: 'Round trips of the admin server’s pings, to the switcher (or direct peer) and to peer domains.',
      labelNames: ['target'] as const,
      buckets: RTT_BUCKETS,
      registers: [r],
    });
    // Both targets at 0 from the start, as the refusal and leave reasons are (switcher-metrics.ts):
    // a series that first appears with its first round trip shows Prometheus no increase, so
    // `rate(flexmux_node_rtt_seconds_count[5m])` and the quantiles over it missed the first ping,
    // and the peer series was missing altogether until a stream to another node was open.
    for (const target of RTT_TARGETS) h.zero({ target });
    rtt.onRtt = (s, target) => h.observe({ target }, s);
  }
}
