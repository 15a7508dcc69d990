// The relay process of bench/relay.mjs and bench/scale.mjs (forked with IPC and --expose-gc).
// It runs a flexmux Switcher on a loopback TCP port (and a WebSocket one) and, on request, a plain Node.js TCP relay
// (each accepted socket piped to a new connection to a given port, both directions) so both
// relays are measured in the same process. argv[2]: JSON { switcher: options, listenBacklog }.
import net from 'node:net';
import v8 from 'node:v8';
import { selfReport, serveRequests } from './relay-ipc.mjs';

const { Switcher, serveTcp, serveWs } = await import(new URL('../../dist/index.js', import.meta.url).href);

const config = JSON.parse(process.argv[2]);
const switcher = new Switcher(config.switcher);
// What went wrong, by kind: refusals and departures by reason, errors by message.
const events = { refused: {}, left: {}, errors: {} };
const bump = (o, k) => {
  o[k] = (o[k] ?? 0) + 1;
};
switcher.on('refused', (info) => bump(events.refused, info.reason));
switcher.on('clientLeft', (_info, reason) => bump(events.left, reason));
switcher.on('error', (err) => bump(events.errors, String(err?.message ?? err)));
const flex = await serveTcp(switcher, { host: '127.0.0.1', port: 0, backlog: config.listenBacklog });
// The same switcher over WebSocket too, for bench/relay.mjs --transport ws.
const flexWs = await serveWs(switcher, { host: '127.0.0.1', port: 0, backlog: config.listenBacklog });

// ------------------------------------------------------------------ the plain TCP relay

const relayed = { sockets: 0, errors: 0 };

function startRelay(targetPort) {
  // allowHalfOpen on both legs: a FIN passes through like any byte and the reply still flows back.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (inbound) => {
    relayed.sockets++;
    const outbound = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true, allowHalfOpen: true });
    const fail = () => {
      relayed.errors++;
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', fail);
    outbound.on('error', fail);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(server.address().port));
  });
}

// ------------------------------------------------------------------ requests

function clientTotals() {
  // Each stream through the switcher is counted at both of its ends.
  let streamEnds = 0;
  let queuedBytes = 0;
  let paused = 0;
  const list = switcher.clients();
  for (const c of list) {
    streamEnds += c.streams;
    queuedBytes += c.queuedBytes;
    if (c.paused) paused++;
  }
  // Frame counts per node only where there are few nodes (bench/relay.mjs).
  const byNode =
    list.length <= 8
      ? list.map((c) => ({
          domain: c.domain,
          framesIn: c.framesIn,
          bytesIn: c.bytesIn,
          byCmd: c.framesByCmd,
        }))
      : undefined;
  return { streamEnds, queuedBytes, paused, byNode };
}

serveRequests({
  report: (m) => ({
    ...selfReport(m.gc),
    stats: switcher.stats(),
    clients: m.clients ? clientTotals() : undefined,
    events,
    relayed,
  }),
  relay: async (m) => ({ port: await startRelay(m.port) }),
  // bench/scale.mjs --heap-diff: a heap snapshot after two full collections, to `m.file`.
  heapSnapshot: (m) => {
    globalThis.gc?.();
    globalThis.gc?.();
    return { file: v8.writeHeapSnapshot(m.file) };
  },
  close: async () => {
    await switcher.close({ timeout: 3000 });
    return {};
  },
});
process.send({ type: 'ready', port: flex.address.port, wsPort: flexWs.address.port });
