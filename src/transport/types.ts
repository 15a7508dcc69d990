/**
 * A transport moves bytes and knows nothing of frames. Two framings exist:
 * - 'stream' (TCP, TLS, memory): `send` parts are written back to back; reads arrive in any chunking.
 * - 'message' (WebSocket): each `send` call is exactly one message, and each received chunk is
 *   exactly one message.
 * Handlers are set once with `attach`; a transport delivers nothing before that (data and a close
 * that arrive earlier are held and reported after it). `send`, `close`, `destroy` and
 * `resumeReading` never call a handler synchronously, so callers need not guard against re-entry.
 */
export interface TransportHandlers {
  /** Bytes (stream framing) or one whole message (message framing). */
  data(chunk: Uint8Array): void;
  /** The transport can accept more after `send` returned false. */
  drain(): void;
  /** The transport is closed; `err` is set when it failed. Called exactly once. */
  close(err?: Error): void;
}

/**
 * A connection that moves bytes, under a node or switcher: TCP, TLS, WebSocket or in memory (see
 * TransportHandlers for its contract).
 */
export interface Transport {
  /** 'stream': bytes in any chunking (TCP, TLS, memory); 'message': one frame per message (WebSocket). */
  readonly framing: 'stream' | 'message';
  /**
   * Stream framing: a batch of short frames is better copied into one buffer than sent as many
   * parts (true for sockets, where each part costs a write call). Default false.
   */
  readonly coalesce?: boolean;
  /** A printable remote address such as `127.0.0.1:5000`, for logs and stats. */
  readonly remoteAddress: string;
  /**
   * Sends `parts` as one unit (one message under message framing). The data is always accepted;
   * false means "over the high-water mark, wait for `drain`". The transport may keep references to
   * `parts` until they are written, so do not reuse them. After close/destroy: drops, returns false.
   * Where `releasesLater` is true and `onReleased` is given, the transport calls it exactly once,
   * never from inside `send`, when it no longer refers to `parts` (written to the operating system,
   * copied, or dropped because the transport closed); sends release in the order they were made.
   * Only nodes with the option reuseWrittenBuffers pass it: by default no send asks.
   */
  send(parts: readonly Uint8Array[], onReleased?: () => void): boolean;
  /**
   * True when the transport keeps referring to a send's parts after `send` returns and reports
   * their release through `onReleased` (sockets). With reuseWrittenBuffers, streams then copy
   * large writes into reused per-connection buffers (util/slabs.ts), reused only once released.
   */
  readonly releasesLater?: boolean;
  /**
   * True when `send` copies the parts (or writes them out) before it returns, so they may be
   * reused at once (the memory pair, a browser WebSocket). With reuseWrittenBuffers, streams copy
   * large writes for such a transport too; a transport with neither flag gets the writer's own
   * buffers, and a large write's callback waits until the send that carried its bytes returned.
   */
  readonly copies?: boolean;
  /** Bytes accepted by `send` but not yet handed to the operating system or browser. */
  readonly bufferedAmount: number;
  /** Throws ConfigError when handlers are already attached. */
  attach(handlers: TransportHandlers): void;
  /**
   * Stops delivering `data` until `resumeReading` (backpressure towards the sender). A browser
   * WebSocket cannot stop reading, so there messages are only held; the flex credit window bounds them.
   */
  pauseReading(): void;
  /** Delivers `data` again after `pauseReading`, what was held first. */
  resumeReading(): void;
  /**
   * Flushes what was sent, then closes; the peer receives everything before its `close()`. Both
   * ends report `close()` without error. Bounded: a peer that does not finish is destroyed.
   */
  close(): void;
  /** Closes at once, dropping unsent data; reports `close(err)` here (asynchronously) and a close to the peer. */
  destroy(err?: Error): void;
  /** True once `close`/`destroy` was called or the connection ended. */
  readonly closed: boolean;
  /**
   * Why the peer closed the connection before any reply (`closed`, the error that says only that),
   * if the transport can find out within `timeoutMs`, else null; never rejects. admit() asks it.
   * Plain TCP connections that dialTcp() made: a ProtocolError when the address answers a TLS
   * handshake (tls-probe.ts), since a TLS port hangs up on a request that is not TLS.
   */
  explainClose?(timeoutMs: number, closed: Error): Promise<Error | null>;
  /**
   * What the first bytes of an admission reply (at least 3) say of a port that speaks
   * another protocol (an HTTP response, a TLS record): an error that names the URL to use, or null
   * (transport/foreign-reply.ts). Node.js's TCP and TLS connections only.
   */
  foreignReply?(head: Uint8Array): Error | null;
}
