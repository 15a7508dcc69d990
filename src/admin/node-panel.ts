import type { Registry } from 'prom-client';
import type { SessionState } from '../node/session.js';
import type { Logger } from '../util/logger.js';
import { PROTOCOL_VERSION } from '../wire/constants.js';
import type { AdminNode, ResolvedAdminOptions } from './config.js';
import type { Keyed } from './delta.js';
import { checkDomain, queryParam, readPage, sendJson } from './http.js';
import { nodeMetrics } from './node-metrics.js';
import { RttProbe } from './node-rtt.js';
import { type NodeSnapshot, NodeView } from './node-view.js';
import type { Panel } from './panel.js';
import { shareTimes } from './rates.js';
import type { Route } from './router.js';
import { packageVersion } from './version.js';

/** A node (one connection) or a session (a node that reconnects) behind the admin API. */
export class NodePanel implements Panel {
  readonly mode = 'node';
  readonly routes: Route[];
  readonly foreign = [
    ['GET', '/api/v1/clients'],
    ['GET', '/api/v1/clients/{domain}'],
    ['DELETE', '/api/v1/clients/{domain}'],
  ] as const;
  readonly view: NodeView;
  private readonly rtt: RttProbe | null;
  private unrelay: (() => void) | null = null;
  /** Where relay() sends events, once it has been called. */
  private send: ((event: string, data: unknown) => void) | null = null;
  /** The listener ports at the last sample on a live connection (null before the first). */
  private ports: Set<number> | null = null;
  /** A plain node's state at the last sample (a session reports its own). */
  private nodeState: string | null = null;

  constructor(
    target: AdminNode,
    private readonly o: ResolvedAdminOptions,
    registry: Registry,
    logger: Logger,
  ) {
    this.rtt =
      o.pingInterval > 0
        ? new RttProbe(() => this.view.current, o.pingInterval, o.maxPingedDomains, logger)
        : null;
    this.view = new NodeView(target, this.rtt, o.historySize, o.itemHistory, o.maxSnapshotItems);
    nodeMetrics(registry, this.view, this.rtt);
    this.rtt?.start();
    if (this.rtt !== null) this.view.session?.on('state', this.onState);
    this.routes = [
      {
        method: 'GET',
        path: '/api/v1/streams',
        access: 'token',
        handle: (c) => {
          // ?domain= keeps the streams whose peer is that domain, normalised as on a switcher
          // (400 if it is none). No stream to it is an empty list: a node cannot tell whether
          // anybody holds the domain, as a switcher's 404 does.
          const q = queryParam(c.url, 'domain');
          const domain = q === null ? undefined : checkDomain(q);
          // Pages as a switcher's lists do: `next` is a cursor (NodeView.streams).
          sendJson(c.res, 200, this.view.streams(domain, readPage(c.url)));
        },
      },
      {
        method: 'GET',
        path: '/api/v1/listeners',
        access: 'token',
        handle: (c) => sendJson(c.res, 200, { listeners: this.view.listeners() }),
      },
    ];
  }

  /** A session's new connection gets its RTT at once (RttProbe.connected). */
  private readonly onState = (state: SessionState): void => {
    if (state === 'ready') this.rtt?.connected();
  };

  private get state(): SessionState | 'ready' | 'closed' {
    const session = this.view.session;
    if (session !== null) return session.state;
    return this.view.current?.closed === false ? 'ready' : 'closed';
  }

  info(): unknown {
    const n = this.view.current;
    const session = this.view.session;
    return {
      mode: 'node',
      version: packageVersion(),
      protocol: PROTOCOL_VERSION,
      domain: session?.domain ?? n?.domain ?? '',
      ip: n?.ip ?? 0,
      state: this.state,
      remoteAddress: n?.transport.remoteAddress ?? null,
      connections: session?.connections ?? (n === null ? 0 : 1),
      totals: this.view.totals(),
      listeners: this.view.listeners().map((l) => l.port),
      admin: {
        sampleInterval: this.o.sampleInterval,
        pingInterval: this.o.pingInterval,
        tokenRequired: this.o.token !== undefined,
      },
    };
  }

  down(): string | null {
    // A session between connections (connecting, backoff) is alive: it will connect again.
    if (this.state !== 'closed') return null;
    return this.view.session !== null ? 'the session is closed' : 'the node is closed';
  }

  tick(mono: number, wall: number): void {
    this.view.tick(mono, wall);
    this.followListeners();
    this.followNode();
  }

  /**
   * `listener` events for ports listened on or let go since the last sample: the core reports
   * neither, and a node's event log otherwise held nothing but its session's state changes. Read
   * per sample, so a listener opened and closed between two samples goes unseen. A session keeps
   * its listeners between connections (NodeView.listenerPorts reads them from the session), so a
   * reconnection sends none; a plain node's are only compared while it is open.
   */
  private followListeners(): void {
    const n = this.view.current;
    if (this.view.session === null && (n === null || n.closed)) return;
    // Ascending, which a set keeps: the events come port by port.
    const ports = new Set(this.view.listenerPorts());
    const before = this.ports;
    this.ports = ports;
    const send = this.send;
    if (before === null || send === null) return;
    for (const port of ports) {
      if (!before.has(port)) send('listener', { port, open: true });
    }
    for (const port of before) {
      if (!ports.has(port)) send('listener', { port, open: false });
    }
  }

  /** A plain node's close as a `state` event, as a session reports its own (seen at a sample). */
  private followNode(): void {
    if (this.view.session !== null) return;
    const state = this.state;
    if (this.nodeState !== null && state !== this.nodeState) this.send?.('state', { state });
    this.nodeState = state;
  }

  hello(given?: unknown): unknown {
    const snapshot = (given as NodeSnapshot | undefined) ?? this.view.snapshot(this.o.maxSnapshotItems);
    return {
      mode: 'node',
      sampleInterval: this.o.sampleInterval,
      history: this.view.history(),
      ...shareTimes(this.view.streamHistory(snapshot.streams)),
      snapshot,
    };
  }

  snapshot(): unknown {
    return this.view.snapshot(this.o.maxSnapshotItems);
  }

  keyed(snapshot: unknown): Keyed {
    const s = snapshot as NodeSnapshot;
    // By serial, not by id: a stream that closed and a new one between the same ports (the same
    // id) between two samples are a removal and an addition, not one stream whose fields changed
    // (its sparkline history and the dashboard's row carried over to the new one), and a rebind
    // changes an id, not a serial.
    const items = new Map(s.streams.map((v) => [String(v.serial), v as unknown as Record<string, unknown>]));
    return { t: s.t, totals: s.totals, omitted: s.omitted, items };
  }

  relay(send: (event: string, data: unknown) => void): void {
    this.send = send;
    const session = this.view.session;
    if (session === null) return;
    const onState = (state: SessionState): void => send('state', { state });
    session.on('state', onState);
    this.unrelay = () => session.off('state', onState);
  }

  close(): void {
    this.view.session?.off('state', this.onState);
    this.rtt?.stop();
    this.view.close();
    this.unrelay?.();
    this.unrelay = null;
    this.send = null;
  }
}
