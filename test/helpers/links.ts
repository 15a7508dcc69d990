import { type FlexStream, Node, type NodeOptions } from '../../src/index.js';
import { memoryPair, seededRandom } from '../../src/transport/memory.js';
import { dialTcp, listenTcp } from '../../src/transport/tcp.js';
import type { Transport } from '../../src/transport/types.js';
import { dialWs, listenWs } from '../../src/transport/ws.js';

/** A connected pair of transports, and how to release what made them. */
export interface LinkPair {
  a: Transport;
  b: Transport;
  dispose(): Promise<void>;
}

export type LinkFactory = () => Promise<LinkPair>;

async function serverPair(
  listen: (on: (t: Transport) => void) => Promise<{ address: { port: number }; close(): Promise<void> }>,
  dial: (port: number) => Promise<Transport>,
): Promise<LinkPair> {
  let accepted!: (t: Transport) => void;
  const got = new Promise<Transport>((resolve) => {
    accepted = resolve;
  });
  const l = await listen((t) => accepted(t));
  const a = await dial(l.address.port);
  const b = await got;
  return { a, b, dispose: () => l.close() };
}

/** Every transport the behaviour suite runs over (STYLE.md habit 11). */
export const links: Record<string, LinkFactory> = {
  memory: async () => {
    const [a, b] = memoryPair();
    return { a, b, dispose: async () => {} };
  },
  'memory (messages, latency)': async () => {
    const [a, b] = memoryPair({ framing: 'message', latency: 1 });
    return { a, b, dispose: async () => {} };
  },
  'memory (rechunked)': async () => {
    const [a, b] = memoryPair({ maxChunk: 7000, rng: seededRandom(7) });
    return { a, b, dispose: async () => {} };
  },
  tcp: () =>
    serverPair(
      (on) => listenTcp({ host: '127.0.0.1', port: 0 }, on),
      (port) => dialTcp('127.0.0.1', port),
    ),
  ws: () =>
    serverPair(
      (on) => listenWs({ host: '127.0.0.1', port: 0 }, on),
      (port) => dialWs(`ws://127.0.0.1:${port}/flex/ws`),
    ),
};

/** Two nodes on a direct link; everything is destroyed by `close`. */
export async function nodePair(
  factory: LinkFactory,
  aOptions: NodeOptions = {},
  bOptions: NodeOptions = {},
): Promise<{ a: Node; b: Node; close(): Promise<void> }> {
  const link = await factory();
  const a = new Node(link.a, { domain: 'alice', ip: 1, ...aOptions });
  const b = new Node(link.b, { domain: 'bob', ip: 2, ...bOptions });
  return {
    a,
    b,
    close: async () => {
      a.destroy();
      b.destroy();
      await link.dispose();
    },
  };
}

/**
 * Two nodes on a memory link (heartbeat off) and one stream between them: `s` dialled by alice,
 * `peer` accepted by bob. `close` destroys both nodes.
 */
export async function streamPair(
  aOptions: NodeOptions = {},
  bOptions: NodeOptions = {},
): Promise<{ s: FlexStream; peer: FlexStream; close(): Promise<void> }> {
  const nodes = await nodePair(
    links.memory!,
    { heartbeatInterval: 0, ...aOptions },
    { heartbeatInterval: 0, ...bOptions },
  );
  const accepted = nodes.b.listen(9).accept();
  const s = await nodes.a.dial('bob:9');
  return { s, peer: await accepted, close: nodes.close };
}
