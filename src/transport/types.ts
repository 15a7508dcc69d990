/**
 * A transport moves bytes and knows nothing of frames. Two framings exist:
 * - 'stream' (TCP, TLS, memory): `send` parts are written back to back; reads arrive in any chunking.
 * - 'message' (WebSocket): each `send` call is exactly one message, and each received chunk is
 *   exactly one message.
 * Handlers are set once with `attach`; a transport delivers nothing before that.
 */
export interface TransportHandlers {
  /** Bytes (stream framing) or one whole message (message framing). */
  data(chunk: Uint8Array): void;
  /** The transport can accept more after `send` returned false. */
  drain(): void;
  /** The transport is closed; `err` is set when it failed. Called exactly once. */
  close(err?: Error): void;
}

export interface Transport {
  readonly framing: 'stream' | 'message';
  /** A printable remote address such as `127.0.0.1:5000`, for logs and stats. */
  readonly remoteAddress: string;
  /** Sends `parts` as one unit (one message under message framing). False: wait for `drain`. */
  send(parts: readonly Uint8Array[]): boolean;
  /** Bytes accepted by `send` but not yet handed to the operating system or browser. */
  readonly bufferedAmount: number;
  attach(handlers: TransportHandlers): void;
  /** Stops delivering `data` until `resumeReading` (backpressure towards the sender). */
  pauseReading(): void;
  resumeReading(): void;
  /** Flushes what was sent, then closes. */
  close(): void;
  /** Closes at once, dropping unsent data. */
  destroy(err?: Error): void;
  readonly closed: boolean;
}
