import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FlexStream, Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import type { LeaveReason } from '../../src/switcher/client.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair } from '../../src/transport/memory.js';
import { currentTimeNs, openResponse, sealRequest } from '../../src/wire/admission/index.js';
import { Cmd, SWITCHER_IP } from '../../src/wire/constants.js';
import { MiB } from '../helpers/faulty-memory.js';
import { HostilePeer } from '../helpers/faulty-peer.js';
import { echoAndCheck, echoTransfer, type Outcome } from '../helpers/faulty-streams.js';
import { encodeRaw, frameArb, type RawFrame } from './frames.js';
import { budget, runs } from './scale.js';

/**
 * The switcher's router fed interleaved random frames from several admitted raw clients while
 * two real nodes carry a transfer through it. Properties: the switcher never throws (no 'error'
 * event, no client dropped for a routing failure), per-client queues stay within their bounds,
 * the raw clients stay connected (they read everything), and the legitimate transfer arrives
 * intact: no admitted client can disturb a stream between two others.
 */

const PASSWORD = 'fuzz-switcher';
const PER_SOURCE = 256 * 1024;
const PER_CLIENT = 1 * MiB;
const FUZZERS = 3;
const SIZE = 4 * MiB;

async function raw(sw: Switcher, domain: string) {
  const [a, b] = memoryPair({ remoteAddresses: ['switcher', `203.0.113.${domain.length}:1`] });
  sw.handle(b);
  const peer = new HostilePeer(a, 32);
  peer.bytes(await sealRequest(PASSWORD, { domain, timestamp: currentTimeNs() }));
  const reply = await peer.next((f) => f.cmd === Cmd.ADMIT);
  const res = await openResponse(PASSWORD, reply.payload);
  expect(res.errCode).toBe(0);
  return { peer, ip: res.ip, end: a };
}

async function real(sw: Switcher, domain: string): Promise<Node> {
  const [a, b] = memoryPair({ remoteAddresses: ['switcher', `198.51.100.${domain.length}:1`] });
  sw.handle(b);
  const { ip, transport } = await admit(a, { password: PASSWORD, domain });
  const n = new Node(transport, { ip, domain, heartbeatInterval: 0 });
  n.on('error', () => {});
  return n;
}

describe('the switcher router fed random frames by several clients', () => {
  it(
    'never throws, keeps queues bounded, keeps everyone connected, and relays a clean transfer intact',
    async () => {
      const sw = new Switcher({
        password: PASSWORD,
        maxQueuePerSource: PER_SOURCE,
        maxQueuePerClient: PER_CLIENT,
      });
      const errors: Error[] = [];
      const left: [string, LeaveReason, string | undefined][] = [];
      sw.on('error', (e) => errors.push(e));
      sw.on('clientLeft', (c, r, e) => left.push([c.domain, r, e?.message]));
      const alice = await real(sw, 'alice');
      const bob = await real(sw, 'bob');
      // bob: a checked echo on 7, a sink that holds streams on 8; fuzzers may open both.
      bob.listen(7).on('stream', (s: FlexStream) => {
        s.on('error', () => {});
        echoAndCheck(s, () => SIZE);
      });
      const held: FlexStream[] = [];
      bob.listen(8).on('stream', (s: FlexStream) => {
        s.on('error', () => {});
        held.push(s);
      });
      alice.listen(7).on('stream', (s: FlexStream) => {
        s.on('error', () => {});
        s.resume();
      });
      const fuzzers: Awaited<ReturnType<typeof raw>>[] = [];
      for (let i = 0; i < FUZZERS; i++) fuzzers.push(await raw(sw, `fuzz${'z'.repeat(i)}`));
      const ips = [alice.ip, bob.ip, ...fuzzers.map((f) => f.ip)];
      const legit = await alice.dial('bob:7');
      const transfer: Promise<Outcome> = echoTransfer(legit, 1, SIZE);
      let maxQueued = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.tuple(
                fc.integer({ min: 0, max: FUZZERS - 1 }),
                frameArb({
                  dstIPs: [...ips, SWITCHER_IP],
                  dstPorts: [7, 8, 0, legit.localPort, 1000, 1001],
                  srcIPs: ips, // the sender's own is picked by the map below, most of the time
                  srcPorts: [1, 2, 3, legit.localPort, 7],
                  domains: ['alice', 'bob', 'fuzz', 'nobody', 'BOB', 'bad.domain', ''],
                }),
                fc.integer({ min: 0, max: 9 }),
              ),
              { minLength: 1, maxLength: 60 },
            ),
            async (plan) => {
              for (const [who, f, spoof] of plan) {
                const me = fuzzers[who];
                const frame: RawFrame = spoof === 0 ? f : { ...f, srcIP: me.ip };
                if (!me.peer.bytes(encodeRaw(frame))) await me.peer.drained();
                for (const c of sw.clients()) maxQueued = Math.max(maxQueued, c.queuedBytes);
              }
              // A barrier per fuzzer: its frames were all routed once the switcher answers.
              await Promise.all(
                fuzzers.map(async (z, i) => {
                  z.peer.frame(Cmd.PING, SWITCHER_IP, 0, z.ip, 0xff00 + i);
                  await z.peer.next((x) => x.cmd === Cmd.PING_ACK && x.dstPort === 0xff00 + i, 10_000);
                }),
              );
              expect(errors).toEqual([]);
              expect(left).toEqual([]);
              expect(sw.stats().clients).toBe(2 + FUZZERS);
            },
          ),
          { numRuns: runs(120) },
        );
        const outcome = await transfer;
        expect(outcome).toEqual({ kind: 'ok', bytes: SIZE + 4 });
        expect(alice.closed || bob.closed).toBe(false);
        // One destination's queue: its per-source bounds summed, or the per-client bound, plus
        // what was already in flight when the sources were paused.
        expect(maxQueued).toBeLessThanOrEqual(PER_CLIENT + (FUZZERS + 2) * (PER_SOURCE + 66_000));
        expect(sw.stats().spoofed).toBeGreaterThan(0);
        // The fuzzers leave: nothing of theirs stays in the switcher's tables.
        for (const z of fuzzers) z.end.destroy();
        await expect.poll(() => sw.stats().clients).toBe(2);
        expect(sw.clients().every((c) => c.queuedBytes === 0)).toBe(true);
      } finally {
        for (const s of held) s.destroy();
        alice.destroy();
        bob.destroy();
        await sw.close({ timeout: 300 });
      }
    },
    budget(10_000),
  );
});
