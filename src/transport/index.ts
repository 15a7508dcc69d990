/**
 * Node-side transports. The browser entry imports `memory.js` and `ws-browser.js` directly so no
 * node:* module becomes reachable from it.
 */
export { transportDefaults, type WaterMarkOptions } from './defaults.js';
/** The same type under a name the node's `DialOptions` does not hide in the package root. */
export type { DialOptions, DialOptions as TransportDialOptions } from './dial.js';
export { type MemoryPairOptions, type MemoryTransport, memoryPair, seededRandom } from './memory.js';
export type { SecureContextOptions } from './secure-context.js';
export {
  dialTcp,
  type Listener,
  /** The same type under a name the node's `Listener` class does not hide in the package root. */
  type Listener as TransportListener,
  type ListenOptions,
  listenTcp,
  type SecureTransportListener,
  type TcpDialOptions,
  type TcpListenOptions,
  type TcpTransportOptions,
  tcpTransport,
} from './tcp.js';
export { dialTls, listenTls, type TlsDialOptions, type TlsListenOptions } from './tls.js';
export type { Transport, TransportHandlers } from './types.js';
export {
  dialWs,
  listenWs,
  type PayloadOption,
  type WsDialOptions,
  type WsListenOptions,
  type WsTransportOptions,
  type WsUpgradeHandlerOptions,
  type WsUpgradeOptions,
  wsTransport,
  wsUpgradeHandler,
} from './ws.js';
export type { WsClientOptions, WsSocket } from './ws-types.js';
