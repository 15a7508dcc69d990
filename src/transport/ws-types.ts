import type { Agent, ClientRequest } from 'node:http';
import type * as net from 'node:net';
import type * as tls from 'node:tls';

/*
 * What the public API takes from the `ws` package, spelt out here rather than imported from its
 * types: those are @types/ws, a devDependency, and a .d.ts of ours that imported them failed a
 * consumer's build without it (TS7016, skipLibCheck off). Making it a dependency instead would
 * bring @types/node, which it references, into every browser project that installs flexmux.
 * `ws` objects fit these types (test/unit/ws-types.test.ts checks it against @types/ws).
 */

/**
 * What `wsTransport()` uses of an open WebSocket of the `ws` package (a client's, or one its
 * server's 'connection' event gives): any `ws` WebSocket is one.
 */
export interface WsSocket {
  /** 1 while open; `wsTransport()` takes an open one only. */
  readonly readyState: number;
  /** Bytes sent and not yet written to the socket. */
  readonly bufferedAmount: number;
  /** Set to 'nodebuffer' by the transport. */
  binaryType: string;
  /** Stops reading (the transport's backpressure). */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** Sends a binary message, or a fragment of one (`fin: false`). */
  send(data: Uint8Array, options: { binary?: boolean; fin?: boolean }, cb?: (err?: Error) => void): void;
  /** Answers a ping (the transport does, bounding the pongs owed). */
  pong(data: Uint8Array, mask: boolean | undefined, cb: (err: Error) => void): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection. */
  terminate(): void;
  /** A message arrived (the transport refuses text ones). */
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  /** The connection failed; 'close' follows. */
  on(event: 'error', listener: (err: Error) => void): unknown;
  /** The connection closed, with the peer's close code and reason. */
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  /** The peer sent a ping. */
  on(event: 'ping', listener: (data: Buffer) => void): unknown;
}

/**
 * The options of the `ws` client that `dialWs()` passes through to it as given (its docs, "new
 * WebSocket(address[, protocols][, options])"), and the TLS options it passes on to Node for a
 * `wss://` URL; one given as undefined is ws's default, as if left out. Left out:
 * `perMessageDeflate` (flex uses no extension: always off), `handshakeTimeout` (the dial's
 * `timeout` bounds the whole dial; one given from JavaScript anyway is taken as that `timeout`,
 * the smaller winning, not handed to ws), `maxPayload` (PayloadOption) and `autoPong` (the
 * transport answers pings itself).
 */
export interface WsClientOptions extends tls.SecureContextOptions {
  /** Extra HTTP headers of the upgrade request. */
  headers?: { [key: string]: string };
  /** The Origin header of the upgrade request. */
  origin?: string;
  /** The Sec-WebSocket-Version header (`ws` supports 8 and 13, its default). */
  protocolVersion?: number;
  /** Whether to follow HTTP redirects of the upgrade request. Default false. */
  followRedirects?: boolean;
  /** Redirects followed at most, with `followRedirects`. Default 10. */
  maxRedirects?: number;
  /** The HTTP(S) agent of the upgrade request (a proxy's, say). */
  agent?: Agent;
  /** IP family of the connection (4 or 6). */
  family?: number;
  /** Local address to connect from. */
  localAddress?: string;
  /** Makes the connection instead of `net.connect`/`tls.connect`. */
  createConnection?: typeof net.createConnection;
  /** Fills each frame's masking key (`connect()`'s `wsZeroMask` uses it). */
  generateMask?(mask: Buffer): void;
  /** Called with the upgrade request before it is sent; must end it (`request.end()`). */
  finishRequest?(request: ClientRequest, websocket: WsSocket): void;
  /** Whether to refuse a server whose certificate the CAs do not vouch for. Default true. */
  rejectUnauthorized?: boolean;
  /** The server name for SNI and the certificate check, where it differs from the URL's host. */
  servername?: string;
  /** Checks the server's certificate against its name, as `tls.connect` takes it. */
  checkServerIdentity?: typeof tls.checkServerIdentity;
  /** Whether to emit several messages of one read in the same tick (`ws` default true). */
  allowSynchronousEvents?: boolean;
  /** Whether to skip checking that text messages are valid UTF-8 (flex sends none). */
  skipUTF8Validation?: boolean;
  /** Fragments of one message `ws` takes at most. */
  maxFragments?: number;
  /** Chunks `ws` buffers at most while a message is incomplete. */
  maxBufferedChunks?: number;
}
