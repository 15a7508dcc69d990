import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import { ConnectionClosedError, type FlexStream, Node, type NodeSession } from '../../src/index.js';
import type { LeaveReason } from '../../src/switcher/client.js';
import type { SwitcherOptions } from '../../src/switcher/config.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';
import { lagMonitor, stallLog } from '../helpers/faulty-lag.js';
import { faultyLink } from '../helpers/faulty-link.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { FaultyProxy } from '../helpers/faulty-proxy.js';
import { nextEvent } from '../helpers/faulty-streams.js';
import { pattern, readAll, sha256, writeAll } from '../helpers/streams.js';

/**
 * Liveness under faults: a peer that goes dark (no FIN, no RST) is found within the heartbeat
 * interval + timeout (the check runs every quarter interval, so + a quarter, plus scheduling
 * slack), and a link saturated by bulk data for seconds raises no false alarm.
 */

const INTERVAL = 200;
const TIMEOUT = 200;
/** interval + timeout, + the quarter-interval check granularity (heartbeat.ts), + timer slack. */
const DEADLINE = INTERVAL + TIMEOUT + INTERVAL / 4 + 150;
const PASSWORD = 'fault-heartbeat';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function echo(l: { on(e: 'stream', f: (s: FlexStream) => void): unknown }): void {
  l.on('stream', (s: FlexStream) => {
    pipeline(s, s).catch(() => {});
  });
}

/** `size` bytes of pattern `seed`, with their SHA-256: made before a round (16 MB take a while). */
function payload(size: number, seed: number): { data: Uint8Array; hash: string } {
  const data = pattern(size, seed);
  return { data, hash: sha256(data) };
}

/** The length and SHA-256 of what a stream reads to its end, hashed as it comes. */
function hashAll(s: FlexStream): Promise<{ length: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let length = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      length += c.length;
    });
    s.once('end', () => resolve({ length, hash: h.digest('hex') }));
    s.once('error', reject);
  });
}

/**
 * Sends a payload through an echo and checks the hash of what comes back. Nothing large is done
 * at once: the data made and hashed at the end of a 16 MB round (tens of ms each, several times
 * that on a loaded machine) stalled the event loop that the heartbeats under test, and their
 * peers, share, while the other round was still under way.
 */
async function echoRound(s: FlexStream, sent: { data: Uint8Array; hash: string }): Promise<void> {
  // Both awaited together: a connection lost mid-round fails the write and the read, and the read's
  // rejection left unheard while the write's was thrown came out as an unhandled rejection.
  const [back] = await Promise.all([hashAll(s), writeAll(s, sent.data, 64 * 1024)]);
  expect(back.length).toBe(sent.data.length);
  expect(back.hash).toBe(sent.hash);
}

async function startSwitcher(o: Partial<SwitcherOptions> = {}) {
  const sw = new Switcher({ password: PASSWORD, ...o });
  const l = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
  cleanups.push(() => sw.close({ timeout: 500 }));
  return { sw, port: l.address.port };
}

function session(
  url: string,
  domain: string,
  extra: Partial<Parameters<typeof connect>[1]> = {},
): NodeSession {
  const s = connect(url, {
    password: PASSWORD,
    domain,
    heartbeatInterval: INTERVAL,
    heartbeatTimeout: TIMEOUT,
    backoffInitial: 50,
    backoffMax: 200,
    admissionTimeout: 1_000,
    connectTimeout: 1_000,
    ...extra,
  });
  cleanups.push(() => s.close());
  return s;
}

describe('dead peers are found within heartbeat interval + timeout', () => {
  it('on a direct link that goes dark, both ends close with a heartbeat error', async () => {
    const link = faultyLink({ latency: 2 });
    cleanups.push(() => link.dispose());
    const a = new Node(link.a, {
      ip: 1,
      domain: 'a',
      heartbeatInterval: INTERVAL,
      heartbeatTimeout: TIMEOUT,
    });
    const b = new Node(link.b, {
      ip: 2,
      domain: 'b',
      heartbeatInterval: INTERVAL,
      heartbeatTimeout: TIMEOUT,
    });
    a.on('error', () => {});
    b.on('error', () => {});
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    echo(b.listen(7));
    // A stream in the middle of its life dies with the link, with a typed error.
    const s = await a.dial('b:7');
    await echoRound(await a.dial('b:7'), payload(100_000, 1));
    const streamErr = nextEvent<Error>(s, 'error', 3_000);
    const lag = lagMonitor();
    cleanups.push(() => lag.stop());
    const t0 = performance.now();
    link.blackhole();
    const [ea, eb] = await Promise.all([
      nextEvent<Error>(a, 'close', 3_000),
      nextEvent<Error>(b, 'close', 3_000),
    ]);
    const elapsed = performance.now() - t0;
    for (const e of [ea, eb]) {
      expect(e).toBeInstanceOf(ConnectionClosedError);
      expect(e.message).toMatch(/heartbeat: no answer within 200 ms/);
    }
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT);
    expect(elapsed).toBeLessThan(DEADLINE + 2 * lag.maxMs());
    expect(await streamErr).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED' });
  });

  it('through a TCP path that goes dark: sessions and switcher notice, then reconnect with listeners', async () => {
    const { sw, port } = await startSwitcher({ idleTimeout: 500, livenessTimeout: 300 });
    const proxy = await FaultyProxy.start({ port });
    cleanups.push(() => proxy.close());
    const left: { domain: string; reason: LeaveReason; at: number }[] = [];
    sw.on('clientLeft', (info, reason) => left.push({ domain: info.domain, reason, at: performance.now() }));
    const server = session(proxy.url, 'server');
    const client = session(proxy.url, 'client');
    echo(server.listen(7));
    await Promise.all([server.ready({ timeout: 5_000 }), client.ready({ timeout: 5_000 })]);
    await echoRound(await client.dial('server:7'), payload(256 * 1024, 2));

    const lost = Promise.all([
      nextEvent<Error>(server, 'disconnect', 3_000),
      nextEvent<Error>(client, 'disconnect', 3_000),
    ]);
    const lag = lagMonitor();
    cleanups.push(() => lag.stop());
    const t0 = performance.now();
    proxy.blackhole();
    const errs = await lost;
    const elapsed = performance.now() - t0;
    for (const e of errs) expect(e.message).toMatch(/heartbeat/);
    expect(elapsed).toBeLessThan(DEADLINE + 2 * lag.maxMs());
    // The switcher's idle timeout drops the dark clients (its sockets to the proxy stay open).
    await expect.poll(() => left.length, { timeout: 2_000 }).toBe(2);
    for (const l of left) {
      expect(l.reason).toBe('idle');
      expect(l.at - t0).toBeLessThan(500 + 400 + 2 * lag.maxMs());
    }

    proxy.heal();
    await Promise.all([nextEvent(server, 'ready', 8_000), nextEvent(client, 'ready', 8_000)]);
    // The session's listener is served on the new connection: dial it by name.
    await echoRound(await client.dial('server:7'), payload(256 * 1024, 3));
    expect(sw.stats().clients).toBe(2);
  });

  it('a session whose dark predecessor still holds the domain takes it over after the liveness ping', async () => {
    // No idle timeout: the switcher keeps the dark client until a newcomer claims its domain.
    const log = captureLogger();
    const { sw, port } = await startSwitcher({ livenessTimeout: 300, logger: log });
    const proxy = await FaultyProxy.start({ port });
    cleanups.push(() => proxy.close());
    const server = session(proxy.url, 'holder');
    echo(server.listen(9));
    await server.ready({ timeout: 5_000 });
    const firstIp = server.ip;
    const lost = nextEvent(server, 'disconnect', 3_000);
    proxy.blackhole();
    await lost;
    expect(sw.stats().clients).toBe(1);
    proxy.heal();
    await nextEvent(server, 'ready', 8_000);
    // The dark holder was evicted before the newcomer was admitted (its departure is reported once
    // its graceful close gives up on the dark path, after the transport's close timeout).
    expect(server.ip).not.toBe(firstIp);
    expect(sw.clients().map((c) => [c.domain, c.ip])).toEqual([['holder', server.ip]]);
    expect(
      log.find('domain taken over: holder did not answer', { domain: 'holder', ip: firstIp }),
    ).toHaveLength(1);
    const direct = session(`tcp://127.0.0.1:${port}`, 'dialer');
    await direct.ready({ timeout: 5_000 });
    await echoRound(await direct.dial('holder:9'), payload(64 * 1024, 4));
  });
});

describe('no false alarm under load', () => {
  /**
   * Two nodes on a shaped link, each with the heartbeat on; `onewayBytes` go a->b on two streams
   * (`echo`: and come back). Resolves with every close the nodes reported (none expected).
   */
  async function saturate(o: {
    bandwidth: number;
    buffer: number;
    batch: number;
    bytes: number;
    echo: boolean;
  }): Promise<{ closes: string[]; ms: number; inbound: number }> {
    // Made before the nodes, whose heartbeats share this event loop.
    const made = new Map([5, 6].map((seed) => [seed, payload(o.bytes, seed)] as const));
    const link = faultyLink({ latency: 15, jitter: 5, bandwidth: o.bandwidth, highWaterMark: o.buffer });
    cleanups.push(() => link.dispose());
    const opts = { heartbeatInterval: INTERVAL, heartbeatTimeout: TIMEOUT, maxBatchBytes: o.batch };
    const a = new Node(link.a, { ip: 1, domain: 'a', ...opts });
    const b = new Node(link.b, { ip: 2, domain: 'b', ...opts });
    const closes: string[] = [];
    a.on('close', (e) => closes.push(`a: ${e?.message}`));
    b.on('close', (e) => closes.push(`b: ${e?.message}`));
    a.on('error', () => {});
    b.on('error', () => {});
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    b.listen(7).on('stream', (s: FlexStream) => {
      if (o.echo) {
        pipeline(s, s).catch(() => {});
        return;
      }
      s.on('error', () => {});
      readAll(s).then(
        () => s.end(),
        () => {},
      );
    });
    const t0 = performance.now();
    const one = async (seed: number): Promise<void> => {
      const s = await a.dial('b:7');
      const sent = made.get(seed)!;
      if (!o.echo) {
        const closed = nextEvent(s, 'close', 20_000);
        s.resume();
        await writeAll(s, sent.data);
        await closed;
        return;
      }
      await echoRound(s, sent);
    };
    try {
      await Promise.all([one(5), one(6)]);
    } catch (err) {
      closes.push(`stream: ${(err as Error).message}`);
    }
    return { closes, ms: performance.now() - t0, inbound: a.stats.bytesIn };
  }

  it('a direct link saturated for ~3 s by bulk data in both directions stays up', async () => {
    // 2 MB/s each way with 64 KiB of buffering in the path (socket-like): the heartbeat ping waits
    // behind at most ~64 ms of data each way, well inside the 200 ms timeout.
    const r = await saturate({
      bandwidth: 2_000_000,
      buffer: 64 * 1024,
      batch: 64 * 1024,
      bytes: 3_000_000,
      echo: true,
    });
    expect(r.closes).toEqual([]);
    expect(r.ms).toBeGreaterThan(2_500);
  });

  // Regression (found here, fixed in 6e669c8; src/node/heartbeat.ts): before, only our own writes count as
  // activity, and only the ping's answer counts as life. A writer blocked by its transport's backpressure for
  // a heartbeat interval pings, and the ping then queues behind its own buffered bulk data; when the path
  // holds more than heartbeatTimeout worth of data (here 1 MiB at 2 MB/s = 0.5 s > 200 ms; with the defaults
  // a 4 MB send buffer on a 1 MB/s uplink = 4 s > 2 s), the node kills a connection whose peer is provably
  // alive: its data-ACKs keep arriving. Fix: treat any inbound byte (node.stats.bytesIn) since the ping was
  // sent as an answer, and skip the ping while inbound traffic flows.
  it('a writer on a deep-buffered slow link is not declared dead while the peer keeps acknowledging', async () => {
    const r = await saturate({
      bandwidth: 2_000_000,
      buffer: 1024 * 1024,
      batch: 256 * 1024,
      bytes: 3_000_000,
      echo: false,
    });
    expect(r.closes).toEqual([]);
  });

  it('sessions through a TCP proxy and a switcher stay up through seconds of bulk echo', async (ctx) => {
    // Real TCP hides megabytes in socket buffers: a ping that queues behind them on this path was
    // measured at 0.7-2.3 s round trip under load, far over the 200 ms timeout. The bytes that
    // keep arriving meanwhile are what keeps the connection up (the deep-buffer fix above).
    const sent = [payload(16_000_000, 7), payload(16_000_000, 8)];
    const stalls = stallLog();
    cleanups.push(() => stalls.stop());
    const { sw, port } = await startSwitcher();
    const proxy = await FaultyProxy.start({ port }, { latency: 10, jitter: 5 });
    cleanups.push(() => proxy.close());
    const hb = { heartbeatInterval: INTERVAL, heartbeatTimeout: TIMEOUT };
    const server = session(proxy.url, 'bulk-server', hb);
    const client = session(proxy.url, 'bulk-client', hb);
    const drops: string[] = [];
    const dropsAt: number[] = [];
    const dropped = (who: string) => (e: Error) => {
      drops.push(`${who}: ${e.message}`);
      dropsAt.push(performance.now());
    };
    server.on('disconnect', dropped('server'));
    client.on('disconnect', dropped('client'));
    echo(server.listen(7));
    await Promise.all([server.ready({ timeout: 5_000 }), client.ready({ timeout: 5_000 })]);
    const t0 = performance.now();
    // Each round dials its own stream: with the dials awaited in turn, a second dial that failed
    // (the connection dropped) left the first round's rejection unheard.
    const rounds = await Promise.allSettled(
      sent.map(async (one) => echoRound(await client.dial('bulk-server:7'), one)),
    );
    // Every party here (both sessions, the switcher, the proxy) runs on this one event loop, so a
    // stall of it (a loaded machine: the CI run on ae6e3cd, load ~12, dropped a session with `no
    // answer within 200 ms`) starves the heartbeat's peer too, where a peer of its own would have
    // kept sending: the judge of a timed-out ping waits for the loop to poll for input, and finds
    // none only because the peer did not run. A drop within interval + timeout + a quarter of a
    // stall of half the timeout or more tells nothing about the heartbeat (the peer had at most
    // the other half to answer): the test is skipped, saying so. Any other drop fails it.
    const window = INTERVAL + TIMEOUT + INTERVAL / 4;
    const starved = dropsAt.map((at) => stalls.longestWithin(at - window, at));
    if (drops.length > 0 && starved.every((ms) => ms >= TIMEOUT / 2)) {
      ctx.skip(`event loop stalled ${starved.map(Math.round).join(', ')} ms before ${drops.join('; ')}`);
    }
    expect(drops).toEqual([]);
    for (const r of rounds) if (r.status === 'rejected') throw r.reason;
    expect(performance.now() - t0).toBeGreaterThan(1_000);
    expect(server.connections + client.connections).toBe(2);
    // The heartbeat was on all along: once the transfer is over, the idle server pings.
    await expect
      .poll(() => sw.client('bulk-server')?.framesByCmd.ping ?? 0, { timeout: 2_000 })
      .toBeGreaterThan(0);
  });
});
