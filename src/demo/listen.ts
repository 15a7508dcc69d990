import http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from '../errors.js';
import { handshakeRefused } from '../listener-refusals.js';
import type { Switcher } from '../switcher/switcher.js';
import { checkSwitcher, upgradeHandler } from '../switcher-node.js';
import { transportDefaults } from '../transport/defaults.js';
import {
  handshakeFailure,
  httpClientError,
  httpHandshakeTimeouts,
  PendingHandshakes,
  requestPath,
  upgradeOr404,
} from '../transport/handshakes.js';
import { type Listener, type ListenOptions, startListener } from '../transport/tcp.js';
import type { WsUpgradeOptions } from '../transport/ws.js';
import { checkOptions } from '../util/check.js';
import { type DemoOptions, demoHandler } from './handler.js';

/**
 * Browser connections the demo keeps open for more requests apart from the pending handshakes
 * (PendingHandshakes.request): a dozen browsers at six connections each. Past it, a response
 * closes its connection, which the browser opens again for its next request.
 */
export const DEMO_HTTP_CONNECTIONS = 64;

/** Where to listen, the demo's options, and the WebSocket's (its path is `wsPath`). */
export interface DemoListenOptions extends ListenOptions, DemoOptions, Omit<WsUpgradeOptions, 'path'> {}

/**
 * One plain-HTTP server for the demo: the page at `base` and the switcher's WebSocket at
 * `wsPath`, so the page's default switcher URL is its own origin. Stops with the switcher.
 */
export async function listenDemo(switcher: Switcher, options: DemoListenOptions): Promise<Listener> {
  checkSwitcher('listenDemo()', switcher);
  if (switcher.state !== 'open') throw new ConfigError('the switcher is closed');
  checkOptions('listenDemo()', options);
  const { host, port, backlog, maxPayload, highWaterMark, lowWaterMark, closeTimeout, ...demoOptions } =
    options;
  const upgrade = upgradeHandler(switcher, {
    path: demoOptions.wsPath,
    maxPayload,
    highWaterMark,
    lowWaterMark,
    closeTimeout,
  });
  const demo = await demoHandler(switcher, demoOptions);
  const wsPath = demoOptions.wsPath ?? transportDefaults.wsPath;
  // The switcher's WebSocket is served here too: bound connections before their upgrade as
  // listenWs does (the admission timeout for the request, maxPendingAdmissions of them at once).
  // A connection that asks for a page is a browser's, not a node's: it leaves that count.
  const { admissionTimeout, maxPendingAdmissions } = switcher.options;
  const logger = switcher.logger;
  // Counted as a ws:// listener's refusals are (listener-refusals.ts): the pages are HTTP served,
  // not handshakes refused, but a request to the WebSocket's path with no upgrade is `not-upgrade`.
  const refused = handshakeRefused(switcher, 'ws');
  const server = http.createServer(httpHandshakeTimeouts(admissionTimeout), (req, res) => {
    handshakes.request(req, res);
    if (demo.handle(req, res)) return;
    // As listenWs does: the WebSocket path without an upgrade is 426, anything else 404.
    const ws = requestPath(req) === wsPath;
    if (ws) refused('not-upgrade');
    // A 426 must name the protocol to switch to (RFC 9110 15.5.22).
    res.writeHead(ws ? 426 : 404, {
      'content-type': 'text/plain; charset=utf-8',
      ...(ws ? { upgrade: 'websocket' } : {}),
    });
    res.end(ws ? 'upgrade required\n' : 'not found\n');
  });
  const handshakes = new PendingHandshakes(
    server,
    maxPendingAdmissions,
    logger,
    DEMO_HTTP_CONNECTIONS,
    refused,
  );
  const onClientError = httpClientError(server, logger);
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    handshakes.refuse(socket as net.Socket, handshakeFailure(err, false));
    onClientError(err, socket);
  });
  server.on('upgrade', upgradeOr404(server, handshakes, upgrade));
  let l: Listener;
  try {
    l = await startListener(server, { host, port, backlog, logger }, () => handshakes.destroyAll());
  } catch (err) {
    await demo.close();
    throw err;
  }
  const onClosing = (): void => {
    void close();
  };
  const close = async (): Promise<void> => {
    switcher.off('closing', onClosing);
    await l.close();
    await demo.close();
  };
  switcher.on('closing', onClosing);
  return { address: l.address, close };
}
