/**
 * flexmux for Node.js: streams are Node Duplexes (FlexStream). The browser entry (browser.ts)
 * exposes the same core with Web Streams.
 */
import type { NodeOptions } from './config.js';
import { FlexStream } from './face/duplex.js';
import { BaseNode } from './node/node.js';
import { indexStreamsBySerial } from './node/serial-index.js';
import type { Transport } from './transport/types.js';

export type { NodeOptions, ResolvedNodeOptions } from './config.js';
export { defaults, sessionDefaults, validateNodeOptions } from './config.js';
export * from './errors.js';
export type { FlexStreamOptions } from './face/duplex.js';
export { FlexStream } from './face/duplex.js';
export type { DialTarget } from './node/address.js';
export { parseAddress } from './node/address.js';
export { type Destroyable, Listener, type ListenerEvents } from './node/listener.js';
export type { DialOptions, NodeEvents, PingOptions, StreamFactory } from './node/node.js';
export { BaseNode } from './node/node.js';
export { Scheduler } from './scheduler.js';
export { splice } from './splice.js';
export type { StreamAddress, StreamFace, StreamState } from './stream/core.js';
export { StreamCore } from './stream/core.js';
export { WebStream } from './stream/web.js';
export type { Transport, TransportHandlers } from './transport/types.js';
export type { Logger } from './util/logger.js';
export { Caps, Cmd, HEADER_SIZE, MAX_PAYLOAD, PROTOCOL_VERSION, SWITCHER_IP } from './wire/constants.js';
export { normalizeDomain } from './wire/domain.js';

// A page of a node's streams (streamPage(), the admin's lists) by binary search, not by sorting.
indexStreamsBySerial();

/** A node whose streams are Node.js Duplex streams. */
export class Node extends BaseNode<FlexStream> {
  constructor(transport: Transport, options: NodeOptions = {}) {
    super(transport, options, (core) => new FlexStream(core));
  }
}

export type { ConnectOptions, NodeSession } from './connect.js';
export { connect, connector } from './connect.js';
export { type AdmitOptions, type Admitted, admit } from './node/admit.js';
// All of it is public: Session, its init and options, its events and states.
export * from './node/session.js';
export * from './switcher/index.js';
export type { WsServeOptions } from './switcher-node.js';
export {
  listenTcp as serveTcp,
  listenTls as serveTls,
  listenWs as serveWs,
  listenWss as serveWss,
  upgradeHandler,
} from './switcher-node.js';
export * from './transport/index.js';
