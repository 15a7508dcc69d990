import type { Socket } from 'node:net';

/**
 * The admin server's connections when it has a token: at most `max` open, and room made for a
 * new one by closing the oldest that has not shown the token. A plain cap that turns new
 * connections away let anyone who can reach the port, token or not, hold every slot for good
 * (a request to the public /healthz every few seconds keeps a connection alive) and keep the
 * operator out of the API. Bounding connections per remote address would not do: behind a
 * reverse proxy every connection comes from the proxy's address, the operator's own tools on
 * loopback share one address, and a crowd from a few addresses gets around it. Here a crowd
 * without the token only pushes its own connections out; a connection that has shown the token
 * is closed only by its own timeouts. What is left (docs/security.md, "Residual risks"): a crowd
 * that opens `max` connections between the operator's connecting and its first request can
 * close that connection before it shows the token, and a crowd with the token keeps all out.
 */
export class Connections {
  /** Connections that have not shown the token, oldest first (a Set keeps insertion order). */
  private readonly strangers = new Set<Socket>();
  /** Connections that have shown the token. */
  private readonly trusted = new Set<Socket>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.strangers.size + this.trusted.size;
  }

  /**
   * Takes in `socket`: 'room' when there was room, 'closed-oldest' when the oldest connection
   * that had not shown the token was closed to make it, 'full' (taking nothing in) when every
   * open connection has shown it: the caller closes `socket` then.
   */
  admit(socket: Socket): 'room' | 'closed-oldest' | 'full' {
    let made: 'room' | 'closed-oldest' = 'room';
    if (this.size >= this.max) this.dropDestroyed();
    if (this.size >= this.max) {
      const oldest = this.strangers.values().next();
      if (oldest.done === true) return 'full';
      this.strangers.delete(oldest.value);
      oldest.value.destroy();
      made = 'closed-oldest';
    }
    this.strangers.add(socket);
    socket.once('close', () => {
      this.strangers.delete(socket);
      this.trusted.delete(socket);
    });
    return made;
  }

  /**
   * Forgets connections destroyed already whose 'close' has not come yet: it comes a turn of the
   * event loop later (once the handle has closed), and Node's own count, server.maxConnections's,
   * dropped at destroy(). Counted until then, a connection reset (the server destroys its end on
   * the read error) or timed out kept its slot here: a new one that came in between found every
   * slot taken, and when they had all shown the token it was turned away as `full` (an operator
   * reconnecting among operators), or else a live connection was closed for room there was.
   * Only at the cap, so at most `max` sockets are looked at, and only then.
   */
  private dropDestroyed(): void {
    for (const s of this.strangers) if (s.destroyed) this.strangers.delete(s);
    for (const s of this.trusted) if (s.destroyed) this.trusted.delete(s);
  }

  /** `socket` carried a request with the token: it is no longer closed to make room. */
  trust(socket: Socket): void {
    if (this.strangers.delete(socket)) this.trusted.add(socket);
  }

  /**
   * The token changed (it may have leaked): connections that showed the old one count as
   * strangers again, the youngest of them, until they show the new one.
   */
  forget(): void {
    for (const s of this.trusted) this.strangers.add(s);
    this.trusted.clear();
  }
}
