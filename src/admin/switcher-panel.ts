import type { Registry } from 'prom-client';
import type { ClientInfo, LeaveReason } from '../switcher/client.js';
import type { RefusalInfo, Switcher } from '../switcher/switcher.js';
import { PROTOCOL_VERSION } from '../wire/constants.js';
import { CLIENT_ID_RULE, isClientId, parseClientId } from './client-id.js';
import type { ResolvedAdminOptions } from './config.js';
import type { Keyed } from './delta.js';
import { checkDomain, HttpError, queryParam, readJsonBody, readPage, sendJson } from './http.js';
import { isKickReason, KICK_REASON_RULE } from './kick-reason.js';
import type { Panel } from './panel.js';
import { shareTimes } from './rates.js';
import type { Context, Route } from './router.js';
import { SwitcherMetrics } from './switcher-metrics.js';
import { type SwitcherSnapshot, SwitcherView } from './switcher-view.js';
import { packageVersion } from './version.js';

/**
 * The connection id a kick is limited to: `?id=` (digits) or else the body's `id` (a JSON
 * number), under one rule (client-id.ts: a body's id took any safe integer, 16 digits too, that
 * `?id=` refused); undefined when neither is given; else 400.
 */
function kickId(query: string | null, body: unknown): number | undefined {
  if (query === null && body === undefined) return undefined;
  const n = query === null ? body : parseClientId(query);
  if (!isClientId(n)) throw new HttpError(400, 'bad_request', `id must be ${CLIENT_ID_RULE}`);
  return n;
}

export class SwitcherPanel implements Panel {
  readonly mode = 'switcher';
  readonly routes: Route[];
  readonly foreign = [['GET', '/api/v1/listeners']] as const;
  readonly view: SwitcherView;
  private readonly metrics: SwitcherMetrics;
  private unrelay: (() => void) | null = null;

  constructor(
    private readonly switcher: Switcher,
    private readonly o: ResolvedAdminOptions,
    registry: Registry,
  ) {
    this.view = new SwitcherView(switcher, o.historySize, o.itemHistory, o.maxSnapshotItems);
    this.metrics = new SwitcherMetrics(registry, switcher);
    this.routes = [
      { method: 'GET', path: '/api/v1/clients', access: 'token', handle: (c) => this.list(c) },
      { method: 'GET', path: '/api/v1/clients/{domain}', access: 'token', handle: (c) => this.one(c) },
      { method: 'DELETE', path: '/api/v1/clients/{domain}', access: 'token', handle: (c) => this.kick(c) },
      { method: 'GET', path: '/api/v1/streams', access: 'token', handle: (c) => this.streams(c) },
    ];
  }

  info(): unknown {
    const s = this.switcher.stats();
    const o = this.switcher.options;
    return {
      mode: 'switcher',
      version: packageVersion(),
      protocol: PROTOCOL_VERSION,
      startedAt: new Date(s.startedAt).toISOString(),
      uptimeSeconds: Math.round(s.uptime) / 1000,
      totals: this.view.totals(s),
      limits: {
        maxClients: o.maxClients,
        maxPendingAdmissions: o.maxPendingAdmissions,
        admissionTimeout: o.admissionTimeout,
        idleTimeout: o.idleTimeout,
        maxQueuePerSource: o.maxQueuePerSource,
        maxQueuePerClient: o.maxQueuePerClient,
      },
      admin: { sampleInterval: this.o.sampleInterval, tokenRequired: this.o.token !== undefined },
    };
  }

  tick(mono: number, wall: number): void {
    this.view.tick(mono, wall);
  }

  hello(given?: unknown): unknown {
    const snapshot = (given as SwitcherSnapshot | undefined) ?? this.view.snapshot(this.o.maxSnapshotItems);
    return {
      mode: 'switcher',
      sampleInterval: this.o.sampleInterval,
      history: this.view.history(),
      ...shareTimes(this.view.clientHistory(snapshot.clients)),
      snapshot,
    };
  }

  snapshot(): unknown {
    return this.view.snapshot(this.o.maxSnapshotItems);
  }

  keyed(snapshot: unknown): Keyed {
    const s = snapshot as SwitcherSnapshot;
    // By connection, not by domain: a node that reconnects is a new client under the same
    // domain, and its old connection may still be retiring (its departure reported later). Keyed
    // by domain, a delta merged the two into one item, left in the old one's place.
    const items = new Map(s.clients.map((c) => [String(c.id), c as unknown as Record<string, unknown>]));
    return { t: s.t, totals: s.totals, omitted: s.omitted, items };
  }

  relay(send: (event: string, data: unknown) => void): void {
    const sw = this.switcher;
    // `id` names the connection: the departure of a node's old connection can come after its
    // new one (same domain) was admitted and listed, and must not be taken for the new one's.
    const onClient = (c: ClientInfo): void =>
      send('client', { id: c.id, domain: c.domain, ip: c.ip, remoteAddress: c.remoteAddress });
    const onLeft = (c: ClientInfo, reason: LeaveReason, err: Error | undefined): void =>
      send('clientLeft', { id: c.id, domain: c.domain, ip: c.ip, reason, error: err?.message ?? null });
    const onRefused = (r: RefusalInfo): void =>
      send('refused', {
        remoteAddress: r.remoteAddress,
        reason: r.reason,
        domain: r.domain ?? null,
        message: r.message,
      });
    sw.on('client', onClient).on('clientLeft', onLeft).on('refused', onRefused);
    this.unrelay = () => {
      sw.off('client', onClient).off('clientLeft', onLeft).off('refused', onRefused);
    };
  }

  down(): string | null {
    const state = this.switcher.state;
    return state === 'open' ? null : `the switcher is ${state}`;
  }

  close(): void {
    this.unrelay?.();
    this.unrelay = null;
    this.metrics.close();
  }

  // ------------------------------------------------------------------ handlers

  /**
   * One page of clients (SwitcherView.clientsPage): 10,000 clients made an unpaged answer of 3.5 MB that held the event
   * loop for 35 ms, and each connection that did not read it held it in memory.
   */
  private list(c: Context): void {
    sendJson(c.res, 200, this.view.clientsPage(readPage(c.url)));
  }

  private one(c: Context): void {
    const domain = checkDomain(c.params.domain);
    const client = this.view.client(domain);
    if (client === undefined) throw new HttpError(404, 'not_found', `no client holds the domain "${domain}"`);
    sendJson(c.res, 200, { client });
  }

  private async kick(c: Context): Promise<void> {
    const domain = checkDomain(c.params.domain);
    const body = await readJsonBody(c.req, this.o.maxBodyBytes);
    const raw = queryParam(c.url, 'reason') ?? body.reason ?? 'kicked by the admin';
    if (!isKickReason(raw)) throw new HttpError(400, 'bad_request', `reason must be ${KICK_REASON_RULE}`);
    const id = kickId(queryParam(c.url, 'id'), body.id);
    const client = this.switcher.client(domain);
    if (client === undefined) throw new HttpError(404, 'not_found', `no client holds the domain "${domain}"`);
    // A kick from a stale dashboard row or a delayed command names the connection it saw: when
    // the node has reconnected since (or another took the domain over), the domain's holder is
    // another connection, which it must leave alone. The check and the kick run without a turn
    // of the event loop between them.
    if (id !== undefined && client.id !== id) {
      throw new HttpError(
        409,
        'conflict',
        `the domain "${domain}" is held by connection ${client.id}, not ${id}: not kicked`,
      );
    }
    // Holds the domain still: found above, in this same turn.
    this.switcher.kick(domain, raw);
    sendJson(c.res, 200, { kicked: { domain: client.domain, id: client.id, ip: client.ip, reason: raw } });
  }

  private streams(c: Context): void {
    const q = queryParam(c.url, 'domain');
    const domain = q === null ? undefined : checkDomain(q);
    const page = readPage(c.url);
    const answer = this.view.streams(domain, page);
    if (answer === undefined) throw new HttpError(404, 'not_found', `no client holds the domain "${domain}"`);
    sendJson(c.res, 200, { detail: 'streams', ...answer });
  }
}
