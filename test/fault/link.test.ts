import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/connect.js';
import {
  ConnectionClosedError,
  type FlexStream,
  Node,
  type NodeSession,
  ProtocolError,
} from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';
import { seededRandom } from '../../src/transport/memory.js';
import { type FaultyLinkOptions, faultyLink } from '../helpers/faulty-link.js';
import { FaultyProxy } from '../helpers/faulty-proxy.js';
import {
  type Accepted,
  describeOutcomes,
  echoAndCheck,
  echoTransfer,
  expectNoneBroken,
  nextEvent,
  startTransfers,
} from '../helpers/faulty-streams.js';

/**
 * Broken wires: jitter and re-chunking (data must survive intact), a reset and a truncation in
 * the middle of a frame (every stream must fail with a typed error at both ends, never end
 * cleanly short), on a direct in-process link and on real TCP through a switcher.
 */

const PASSWORD = 'fault-link';
const SIZE = 4 * 1024 * 1024;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function nodesOn(o: FaultyLinkOptions) {
  const link = faultyLink(o);
  const a = new Node(link.a, { ip: 1, domain: 'a', heartbeatInterval: 0 });
  const b = new Node(link.b, { ip: 2, domain: 'b', heartbeatInterval: 0 });
  const errors: Error[] = [];
  a.on('error', (e) => errors.push(e));
  b.on('error', (e) => errors.push(e));
  cleanups.push(
    () => link.dispose(),
    () => a.destroy(),
    () => b.destroy(),
  );
  const accepted: Accepted[] = [];
  b.listen(7).on('stream', (s: FlexStream) => accepted.push(echoAndCheck(s, () => SIZE)));
  return { link, a, b, accepted, errors };
}

async function start(a: Node, n: number) {
  return startTransfers(() => a.dial('b:7'), n, SIZE, 1);
}

describe('a direct link with a faulty wire', () => {
  it('delivers every byte in order through latency, jitter and random re-chunking', async () => {
    const { a, accepted } = nodesOn({ latency: 3, jitter: 4, maxChunk: 3000, rng: seededRandom(11) });
    const run = await start(a, 8);
    const all = await run.outcomes;
    expect(describeOutcomes(all)).toBe(
      Array(8)
        .fill(`ok(${SIZE + 4})`)
        .join(', '),
    );
    const back = await Promise.all(accepted.map((x) => x.outcome));
    expect(back.every((o) => o.kind === 'ok')).toBe(true);
  });

  for (const mode of ['reset', 'truncate'] as const) {
    it(`a ${mode} in the middle of a frame fails every stream with a typed error at both ends`, async () => {
      const { link, a, b, accepted } = nodesOn({ latency: 1 });
      const run = await start(a, 4);
      await expect.poll(() => run.progress.read, { timeout: 10_000, interval: 2 }).toBeGreaterThan(64 * 1024);
      // 11 + 5 bytes past whatever is in flight: inside a header or a payload, never on a boundary
      // of the 16 KiB+ data frames that dominate the wire.
      const cut = 16 * 1024 + 5;
      if (mode === 'reset') link.resetAfter(cut, 'a->b');
      else link.truncateAfter(cut, 'a->b');
      const closes = await Promise.all([
        nextEvent<Error | undefined>(a, 'close'),
        nextEvent<Error | undefined>(b, 'close'),
      ]);
      if (mode === 'reset') for (const e of closes) expect(e).toBeInstanceOf(ConnectionClosedError);
      else {
        // A clean end inside a frame is a protocol violation at the end it cut (docs/errors.md),
        // which says how much of the frame came; the other end (whole chunks) saw a hang-up.
        expect(closes[0]).toBeInstanceOf(ConnectionClosedError);
        expect(closes[1]).toBeInstanceOf(ProtocolError);
        expect(closes[1]?.message).toMatch(
          /^connection ended in the middle of a frame (header|payload): \d+ of its \d+ bytes had arrived/,
        );
      }
      const dialer = await run.outcomes;
      const acceptor = await Promise.all(accepted.map((x) => x.outcome));
      expectNoneBroken([...dialer, ...acceptor]);
      expect(dialer.some((o) => o.kind === 'failed')).toBe(true);
      for (const o of [...dialer, ...acceptor]) {
        if (o.kind === 'failed') expect(o.code).toBe('FLEX_ERR_CONNECTION_CLOSED');
      }
      expect(a.streamCount + b.streamCount).toBe(0);
    });
  }
});

describe('real TCP through a proxy and a switcher', () => {
  async function setup() {
    const sw = new Switcher({ password: PASSWORD, livenessTimeout: 300 });
    const l = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const proxy = await FaultyProxy.start({ port: l.address.port }, { latency: 2, jitter: 2 });
    cleanups.push(() => proxy.close());
    const mk = (domain: string): NodeSession => {
      const s = connect(proxy.url, {
        password: PASSWORD,
        domain,
        backoffInitial: 50,
        backoffMax: 200,
        heartbeatInterval: 0,
      });
      cleanups.push(() => s.close());
      return s;
    };
    const server = mk('server');
    const client = mk('client');
    const accepted: Accepted[] = [];
    server.listen(7).on('stream', (s: FlexStream) => accepted.push(echoAndCheck(s, () => SIZE)));
    await Promise.all([server.ready({ timeout: 5_000 }), client.ready({ timeout: 5_000 })]);
    return { proxy, server, client, accepted };
  }

  for (const mode of ['reset', 'truncate'] as const) {
    it(`a ${mode} mid-frame on every connection: typed failures, then sessions and listeners come back`, async () => {
      const { proxy, server, client, accepted } = await setup();
      const run = await startTransfers(() => client.dial('server:7'), 4, SIZE, 10);
      await expect.poll(() => run.progress.read, { timeout: 10_000, interval: 2 }).toBeGreaterThan(64 * 1024);
      const lost = Promise.all([nextEvent(server, 'disconnect'), nextEvent(client, 'disconnect')]);
      proxy.cutAfter(16 * 1024 + 5, mode, 'down');
      proxy.cutAfter(16 * 1024 + 7, mode, 'up');
      await lost;
      const dialer = await run.outcomes;
      const acceptor = await Promise.all(accepted.map((x) => x.outcome));
      expectNoneBroken([...dialer, ...acceptor]);
      expect(dialer.some((o) => o.kind === 'failed')).toBe(true);

      await Promise.all([nextEvent(server, 'ready', 10_000), nextEvent(client, 'ready', 10_000)]);
      const again = await echoTransfer(await client.dial('server:7'), 99, SIZE);
      expect(again).toEqual({ kind: 'ok', bytes: SIZE + 4 });
    });
  }
});
