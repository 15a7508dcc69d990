import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DialRefusedError, type FlexStream, Node } from '../../src/index.js';
import { admit } from '../../src/node/admit.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memoryPair, seededRandom } from '../../src/transport/memory.js';
import { budget, runs } from './scale.js';

/**
 * Early data under random traffic: a node with `earlyData` sends batches of concurrent requests
 * to a peer, directly or through a flexmux switcher, over links that cut bytes at random places. Some go to ports nobody listens on,
 * some are destroyed by the dialer right after the dial, and the bodies vary in size (up to
 * several frames). Properties: every request to a listening port gets its own body back whole;
 * every refused one fails with DialRefusedError and nothing else; an aborted one never disturbs
 * the others; and afterwards neither node holds a stream.
 */

const LISTENING = [80, 81];
const CLOSED = 90;

type Req = { port: number; size: number; abort: boolean };

const reqArb: fc.Arbitrary<Req> = fc.record({
  port: fc.constantFrom(80, 81, CLOSED),
  size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 200_000 })),
  abort: fc.boolean(),
});

function body(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

type Outcome = { kind: 'reply'; data: Buffer } | { kind: 'error'; err: Error } | { kind: 'aborted' };

function request(s: FlexStream, data: Buffer, abort: boolean): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve({ kind: 'reply', data: Buffer.concat(parts) }));
    s.on('error', (err: Error) => resolve({ kind: 'error', err }));
    s.on('close', () => resolve({ kind: 'aborted' }));
    if (abort) {
      s.destroy();
      return;
    }
    s.end(data);
  });
}

const PASSWORD = 'fuzz-early';

/** Two nodes, `a` with earlyData, on a direct link or each on its own link to a switcher. */
async function setup(
  via: 'direct' | 'switcher',
  seed: number,
): Promise<{ a: Node; b: Node; sw: Switcher | null }> {
  const link = (n: number) => memoryPair({ maxChunk: 3000, rng: seededRandom(seed + n) });
  if (via === 'direct') {
    const [x, y] = link(0);
    return {
      a: new Node(x, { domain: 'a', ip: 1, earlyData: true, heartbeatInterval: 0 }),
      b: new Node(y, { domain: 'b', ip: 2, heartbeatInterval: 0 }),
      sw: null,
    };
  }
  const sw = new Switcher({ password: PASSWORD });
  const joined = async (domain: string, n: number, earlyData: boolean): Promise<Node> => {
    const [mine, theirs] = link(n);
    sw.handle(theirs);
    const { ip, transport } = await admit(mine, { password: PASSWORD, domain });
    return new Node(transport, { domain, ip, earlyData, heartbeatInterval: 0 });
  };
  return { a: await joined('a', 1, true), b: await joined('b', 2, false), sw };
}

describe.each(['direct', 'switcher'] as const)('early data under random traffic (%s)', (via) => {
  it(
    'delivers or fails every request, and leaves no stream behind',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(reqArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          async (batches, seed) => {
            const { a, b, sw } = await setup(via, seed);
            try {
              for (const port of LISTENING) {
                b.listen(port).on('stream', (s: FlexStream) => {
                  s.on('error', () => {});
                  s.on('data', (d: Buffer) => s.write(d));
                  s.on('end', () => s.end());
                });
              }
              // The first request learns that the link is direct.
              const first = await a.dial('b:80');
              expect((await request(first, body(10, 0), false)).kind).toBe('reply');
              // (What the node learned is private; the property is about the requests after it.)
              if (via === 'direct') expect(Reflect.get(a, 'early')).not.toBeNull();
              else expect(Reflect.get(a, 'earlyDomains').size).toBe(1);
              let n = 0;
              for (const batch of batches) {
                const outcomes = await Promise.all(
                  batch.map(async (r) => {
                    const data = body(r.size, ++n);
                    const s = await a.dial(`b:${r.port}`);
                    return { r, data, out: await request(s, data, r.abort) };
                  }),
                );
                for (const { r, data, out } of outcomes) {
                  if (r.abort) {
                    expect(out.kind === 'reply' && out.data.length > 0).toBe(false);
                  } else if (r.port === CLOSED) {
                    expect(out.kind).toBe('error');
                    if (out.kind === 'error') expect(out.err).toBeInstanceOf(DialRefusedError);
                  } else {
                    expect(out.kind).toBe('reply');
                    if (out.kind === 'reply') expect(out.data.equals(data)).toBe(true);
                  }
                }
              }
              // Aborted streams close on both ends; wait for the peer's side to go.
              const busy = () => a.streamCount > 0 || b.streamCount > 0 || (sw?.streams()?.length ?? 0) > 0;
              for (let i = 0; i < 200 && busy(); i++) await new Promise((r) => setImmediate(r));
              expect(a.streamCount).toBe(0);
              expect(b.streamCount).toBe(0);
              expect(sw?.streams() ?? []).toEqual([]);
            } finally {
              a.destroy();
              b.destroy();
              await sw?.close({ timeout: 1_000 });
            }
          },
        ),
        { numRuns: runs(15) },
      );
    },
    budget(15_000),
  );
});
