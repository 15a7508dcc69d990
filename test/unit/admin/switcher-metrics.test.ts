import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRegistry } from '../../../src/admin/metrics.js';
import { SwitcherMetrics } from '../../../src/admin/switcher-metrics.js';
import { SwitcherView } from '../../../src/admin/switcher-view.js';
import { SwitcherClient } from '../../../src/switcher/client.js';
import type { Registry } from '../../../src/switcher/registry.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { Caps, Cmd, SWITCHER_IP } from '../../../src/wire/constants.js';
import { FrameDecoder } from '../../../src/wire/decoder.js';
import { makeFrame } from '../../../src/wire/frame.js';
import { encodeOpen, encodeOpenAck } from '../../../src/wire/open.js';
import { connectRaw, join, PASSWORD, type Raw } from '../switcher/helpers.js';

/**
 * What a /metrics scrape costs as clients come: its series are sums over clients, so its size
 * must not grow with them, and it reads the switcher's per-client snapshot once, not per series
 * (docs/admin.md, "Cost of a scrape"). Sizes and call counts only: no timing.
 */

const open: { sw: Switcher; metrics: SwitcherMetrics }[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const { sw, metrics } of open.splice(0)) {
    metrics.close();
    await sw.close({ timeout: 500 });
  }
});

/** A switcher with `n` admitted clients that each pinged it once, and its metrics. */
async function withClients(n: number) {
  const sw = new Switcher({ password: PASSWORD });
  const registry = createRegistry('switcher', false);
  const metrics = new SwitcherMetrics(registry, sw);
  open.push({ sw, metrics });
  const raws: Raw[] = [];
  for (let i = 0; i < n; i++) raws.push(await join(sw, `m-${i}`));
  await Promise.all(raws.map((r) => r.barrier()));
  return { sw, registry };
}

const samples = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('switcher /metrics: flexmux_switcher_client_rtt_seconds', () => {
  it('observes every answered liveness ping, whether or not the view samples in between', async () => {
    const sw = new Switcher({ password: PASSWORD, pingInterval: 20, livenessTimeout: 2_000 });
    const registry = createRegistry('switcher', false);
    const view = new SwitcherView(sw, 10, 10);
    const metrics = new SwitcherMetrics(registry, sw);
    open.push({ sw, metrics });
    const a = await join(sw, 'rtt-a');
    // Three keep-alive pings answered between two samples of the view (one a second in the
    // admin): three round trips measured, three observations, not the last one alone.
    view.tick(0, 1_000);
    for (let i = 0; i < 3; i++) await a.answerLiveness();
    await a.barrier();
    view.tick(1_000, 2_000);
    const count = async () =>
      samples(await registry.metrics()).find((l) =>
        l.startsWith('flexmux_switcher_client_rtt_seconds_count '),
      );
    expect(await count()).toBe('flexmux_switcher_client_rtt_seconds_count 3');
    // No sample at all: still observed.
    await a.answerLiveness();
    await a.barrier();
    expect(await count()).toBe('flexmux_switcher_client_rtt_seconds_count 4');
  });
});

describe('switcher /metrics', () => {
  it('serves the same series, and about the same bytes, for 3 clients and for 60', async () => {
    const few = await (await withClients(3)).registry.metrics();
    const many = await (await withClients(60)).registry.metrics();
    const names = (text: string) => samples(text).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(names(many)).toEqual(names(few));
    // Only the digits of the values differ.
    expect(Math.abs(many.length - few.length)).toBeLessThan(100);
  });

  it('serves as many samples as docs/admin.md ("Cost of a scrape") says the bench scrapes', async () => {
    // The docs quoted 36 samples long after every reason's series was added at 0: the figure is
    // checked here, so a series added or removed updates it.
    const docs = readFileSync(new URL('../../../docs/admin.md', import.meta.url), 'utf8');
    const quoted = /so the same command gives (\d+):/.exec(docs);
    expect(quoted).not.toBeNull();
    // Clients that pinged the switcher, as bench/metrics.mjs admits them; +2: the admin server's
    // own flexmux_admin_connections_closed_total{reason} (crowd.ts), which startAdmin adds.
    const text = await (await withClients(3)).registry.metrics();
    expect(samples(text).length + 2).toBe(Number(quoted![1]));
  });

  it("reads the clients' totals and the stats of the switcher once per scrape, no snapshot", async () => {
    const { sw, registry } = await withClients(5);
    const totals = vi.spyOn(sw, 'clientTotals');
    const clients = vi.spyOn(sw, 'clients');
    const info = vi.spyOn(SwitcherClient.prototype, 'info');
    const stats = vi.spyOn(sw, 'stats');
    const text = await registry.metrics();
    expect(totals).toHaveBeenCalledTimes(1);
    expect(stats).toHaveBeenCalledTimes(1);
    // Sums need no ClientInfo per client.
    expect(clients).not.toHaveBeenCalled();
    expect(info).not.toHaveBeenCalled();
    expect(samples(text)).toContain('flexmux_switcher_client_streams 0');
    expect(samples(text)).toContain('flexmux_switcher_clients 5');
    // The next scrape reads them afresh.
    await registry.metrics();
    expect(totals).toHaveBeenCalledTimes(2);
    await registry.getMetricsAsJSON();
    expect(totals).toHaveBeenCalledTimes(3);
  });

  it('totals what the clients() snapshots hold, commands in the order a walk over them meets', async () => {
    const { sw } = await withClients(0);
    const a = await join(sw, 'a');
    const b = await join(sw, 'b');
    const c = await join(sw, 'c');
    // Varied counters: streams at both ends, an early-data route, data waiting for a paused reader.
    for (const [x, y, p] of [
      [a, b, 1000],
      [c, a, 2000],
    ] as const) {
      x.send(makeFrame(Cmd.OPEN, y.ip, 80, x.ip, p, encodeOpen({ domain: '', caps: Caps.RESET })));
      await y.next((f) => f.cmd === Cmd.OPEN);
      y.send(makeFrame(Cmd.OPEN_ACK, x.ip, p, y.ip, 80, encodeOpenAck({ window: 0, caps: Caps.RESET })));
      await x.next((f) => f.cmd === Cmd.OPEN_ACK);
    }
    b.t.pauseReading();
    for (let i = 0; i < 40; i++) a.send(makeFrame(Cmd.DATA, b.ip, 1000, a.ip, 80, new Uint8Array(16384)));
    c.send(makeFrame(0x2b, SWITCHER_IP, 1, c.ip, 1));
    c.send(makeFrame(Cmd.OPEN, SWITCHER_IP, 9, c.ip, 3000, encodeOpen({ domain: 'a', caps: 0x1f })));
    await a.next((f) => f.cmd === Cmd.OPEN && f.srcPort === 3000);
    await a.barrier();
    const infos = sw.clients();
    const byCmd = new Map<string, number>();
    for (const i of infos) {
      for (const [cmd, n] of Object.entries(i.framesByCmd)) byCmd.set(cmd, (byCmd.get(cmd) ?? 0) + n);
    }
    const sum = (k: 'streams' | 'streamsOpened' | 'framesIn' | 'framesOut' | 'queuedBytes' | 'earlyRoutes') =>
      infos.reduce((n, i) => n + i[k], 0);
    const t = sw.clientTotals();
    expect(t).toEqual({
      streams: sum('streams'),
      // Each stream once: the list of streams names each once, under its acceptor.
      openStreams: sw.streams()!.length,
      streamsOpened: sum('streamsOpened'),
      framesIn: sum('framesIn'),
      framesOut: sum('framesOut'),
      framesByCmd: byCmd,
      queuedBytes: sum('queuedBytes'),
      maxQueuedBytes: Math.max(0, ...infos.map((i) => i.queuedBytes)),
      earlyRoutes: sum('earlyRoutes'),
      paused: infos.filter((i) => i.paused).length,
    });
    expect([...t.framesByCmd.keys()]).toEqual([...byCmd.keys()]);
    // Not all zero: the walk above has something to compare.
    expect(t.streams).toBe(4);
    expect(t.openStreams).toBe(2);
    expect(t.queuedBytes).toBeGreaterThan(0);
    expect(t.earlyRoutes).toBe(1);
    expect(t.framesByCmd.size).toBeGreaterThanOrEqual(4);
  });

  it('labels frames by command with at most 256 values, whatever clients send', async () => {
    // The one label a client's traffic picks: every command byte is counted, an unknown one as
    // `<n>`, so a flood of made-up commands from many clients adds at most 256 series.
    const { sw, registry } = await withClients(0);
    for (const name of ['p', 'q']) {
      const c = await join(sw, name);
      for (let cmd = 0; cmd < 256; cmd++) c.send(makeFrame(cmd, SWITCHER_IP, 1, c.ip, 1));
      await c.barrier().catch(() => {});
    }
    const series = samples(await registry.metrics()).filter((l) =>
      l.startsWith('flexmux_switcher_frames_received_total{'),
    );
    expect(series).toHaveLength(256);
    expect(series).toContain('flexmux_switcher_frames_received_total{cmd="<255>"} 2');
  });
});

describe('switcher /metrics while a client leaves', () => {
  it('keeps serving a command series whose only sender is leaving, at the value reported', async () => {
    // Frames by command are the live clients' plus those of clients gone (their clientLeft).
    // Between its kick and the end of its connection a client is neither: the series of a
    // command only it had sent dropped out of the scrapes, as if the counter had gone.
    const { sw, registry } = await withClients(0);
    const a = await join(sw, 'a');
    await a.barrier();
    await join(sw, 'b');
    const pings = async () =>
      samples(await registry.metrics()).filter((l) =>
        l.startsWith('flexmux_switcher_frames_received_total{cmd="ping"}'),
      );
    expect(await pings()).toEqual(['flexmux_switcher_frames_received_total{cmd="ping"} 1']);
    const left = new Promise<void>((resolve) => sw.once('clientLeft', () => resolve()));
    expect(sw.kick('a')).toBe(true);
    // Scraped before the kicked connection has ended: a leaves the registry at once, but is
    // counted in the totals until its connection ends (the next test).
    expect(sw.clientTotals().framesByCmd.get('ping')).toBe(1);
    expect(await pings()).toEqual(['flexmux_switcher_frames_received_total{cmd="ping"} 1']);
    // Gone: counted from its departure now.
    await left;
    expect(await pings()).toEqual(['flexmux_switcher_frames_received_total{cmd="ping"} 1']);
  });

  it('counts the queue of a kicked client that reads nothing until its connection ends', async () => {
    // A kicked (evicted, idle...) client leaves the registry at once, but what is queued for it
    // stays until its connection ends, which for one that reads nothing is the transport's close
    // timeout. The queued-bytes gauges (and the admin's totals) dropped it at the kick.
    const sw = new Switcher({ password: PASSWORD, maxQueuePerSource: 64 * 1024 });
    const registry = createRegistry('switcher', false);
    const metrics = new SwitcherMetrics(registry, sw);
    open.push({ sw, metrics });
    const view = new SwitcherView(sw, 10, 10);
    const a = await join(sw, 'a');
    const b = await join(sw, 'b');
    b.t.pauseReading();
    for (let i = 0; i < 64; i++) a.send(makeFrame(Cmd.DATA, b.ip, 7, a.ip, 1000, new Uint8Array(16384)));
    await expect.poll(() => sw.client('a')?.paused).toBe(true);
    const inner = (sw as unknown as { registry: Registry<SwitcherClient> }).registry.byDomain('b')!;
    // b's connection has taken what it will: the rest waits in its queue.
    await expect.poll(() => inner.outbox.scheduler.isBlocked).toBe(true);
    const queued = sw.client('b')!.queuedBytes;
    expect(queued).toBeGreaterThan(0);
    const gauge = async () =>
      samples(await registry.metrics()).filter((l) => l.startsWith('flexmux_switcher_queued_bytes{'));
    const left = new Promise<void>((resolve) => sw.once('clientLeft', () => resolve()));
    expect(sw.kick('b')).toBe(true);
    expect(inner.outbox.queuedBytes).toBe(queued);
    expect(await gauge()).toEqual([
      `flexmux_switcher_queued_bytes{stat="sum"} ${queued}`,
      `flexmux_switcher_queued_bytes{stat="max"} ${queued}`,
    ]);
    expect(view.totals().queuedBytes).toBe(queued);
    // It reads again: the queue drains, the connection ends, and the client is gone.
    b.t.resumeReading();
    await left;
    expect(await gauge()).toEqual([
      'flexmux_switcher_queued_bytes{stat="sum"} 0',
      'flexmux_switcher_queued_bytes{stat="max"} 0',
    ]);
    expect(view.totals().queuedBytes).toBe(0);
  });
});

describe('switcher /metrics: counts by reason', () => {
  it('serves every refusal and departure reason at 0 from the start, so the first one is an increase', async () => {
    // A series that first appears at 1 shows Prometheus no increase: `increase(...[5m]) > 0` on
    // a rare reason (a bug of ours as `error`, `unresponsive`, `rate-limited`) missed its first.
    const { sw, registry } = await withClients(0);
    const byReason = async (name: string) =>
      new Map(
        samples(await registry.metrics())
          .filter((l) => l.startsWith(`${name}{`))
          .map((l) => [/reason="([^"]+)"/.exec(l)![1], Number(l.slice(l.lastIndexOf(' ') + 1))]),
      );
    const refusals = await byReason('flexmux_switcher_refusals_total');
    expect([...refusals.keys()].sort()).toEqual(
      [
        'decrypt',
        'json',
        'version',
        'clock',
        'sum',
        'domain',
        'forbidden',
        'replay',
        'taken',
        'busy',
        'full',
        'timeout',
        'closed',
        'malformed',
        'rate-limited',
        'overloaded',
        'shutdown',
        'http',
        'tls',
      ].sort(),
    );
    expect([...refusals.values()].every((v) => v === 0)).toBe(true);
    const left = await byReason('flexmux_switcher_clients_left_total');
    expect([...left.keys()].sort()).toEqual(
      [
        'closed',
        'reset',
        'error',
        'kicked',
        'evicted',
        'shutdown',
        'idle',
        'unresponsive',
        'protocol',
        'overflow',
        'stalled',
      ].sort(),
    );
    expect([...left.values()].every((v) => v === 0)).toBe(true);
    // A departure adds to its own reason only.
    const gone = new Promise<void>((resolve) => sw.once('clientLeft', () => resolve()));
    const a = await join(sw, 'a');
    expect(sw.kick('a')).toBe(true);
    await gone;
    await a.closed;
    const after = await byReason('flexmux_switcher_clients_left_total');
    expect(after.get('kicked')).toBe(1);
    expect([...after].filter(([r]) => r !== 'kicked').every(([, v]) => v === 0)).toBe(true);
  });
});

describe('switcher /metrics: flexmux_switcher_internal_errors_total', () => {
  it('counts a bug of ours in admission and one in routing, from 0', async () => {
    // One in admission was in no series (no refusal, no departure); one in routing only as a
    // departure for `error`, which a connection that failed is too.
    const { sw, registry } = await withClients(0);
    const count = async () =>
      samples(await registry.metrics()).find((l) => l.startsWith('flexmux_switcher_internal_errors_total '));
    expect(await count()).toBe('flexmux_switcher_internal_errors_total 0');
    const errors: Error[] = [];
    sw.on('error', (e) => errors.push(e));
    // The switcher's reader is the only decoder fed next: the raw peer has been sent nothing.
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementationOnce(() => {
      throw new TypeError('flexmux bug in admission');
    });
    const raw = connectRaw(sw);
    raw.send(new Uint8Array(64));
    await raw.closed;
    await expect.poll(() => errors.length).toBe(1);
    expect(await count()).toBe('flexmux_switcher_internal_errors_total 1');
    const a = await join(sw, 'a');
    const left = new Promise<string>((resolve) => sw.once('clientLeft', (_info, reason) => resolve(reason)));
    vi.spyOn(
      SwitcherClient.prototype as unknown as { seen: (cmd: number) => void },
      'seen',
    ).mockImplementation(() => {
      throw new TypeError('flexmux bug in routing');
    });
    void a.barrier().catch(() => {});
    expect(await left).toBe('error');
    await a.closed;
    expect(await count()).toBe('flexmux_switcher_internal_errors_total 2');
  });
});
