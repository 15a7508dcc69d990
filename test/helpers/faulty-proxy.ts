import * as net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that sits between a client and a server and misbehaves on demand:
 * latency and jitter (order kept), a bandwidth cap per direction, a silent black hole (sockets
 * stay open, nothing moves: no FIN, no RST), a reset of every connection (RST), and a cut after
 * N more bytes that either resets (mid-frame if N says so) or truncates with a clean FIN.
 * Everything it starts (sockets, timers, the server) ends with `close()`.
 */

export interface ProxyShape {
  /** One-way delay in ms. */
  latency?: number;
  /** Extra random delay in ms, 0..jitter, per piece; order is kept. */
  jitter?: number;
  /** Bytes per second per direction and connection; 0: unlimited. */
  bandwidth?: number;
}

/** up = client to server, down = server to client. */
export type Direction = 'up' | 'down';

interface Piece {
  bytes: Buffer;
  at: number;
}

/** Bytes queued in one direction above which the proxy stops reading its source. */
const QUEUE_HIGH = 512 * 1024;
/** Shaping granularity: big reads are cut so the bandwidth cap is smooth. */
const PIECE = 16 * 1024;

class Lane {
  private readonly queue: Piece[] = [];
  private queued = 0;
  private txFree = 0;
  private lastAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sourcePaused = false;
  forwarded = 0;
  cut: { left: number; mode: 'reset' | 'truncate' } | null = null;
  dark = false;

  constructor(
    private readonly proxy: FaultyProxy,
    private readonly conn: ProxiedConnection,
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    if (this.dark || this.conn.dead) return;
    const shape = this.proxy.shape;
    for (let off = 0; off < chunk.length; off += PIECE) {
      const bytes = chunk.subarray(off, Math.min(chunk.length, off + PIECE));
      const t = performance.now();
      let depart = t;
      if (shape.bandwidth) {
        this.txFree = Math.max(this.txFree, t) + (bytes.length / shape.bandwidth) * 1000;
        depart = this.txFree;
      }
      const jitter = shape.jitter ? Math.random() * shape.jitter : 0;
      const at = Math.max(this.lastAt, depart + (shape.latency ?? 0) + jitter);
      this.lastAt = at;
      this.queue.push({ bytes, at });
      this.queued += bytes.length;
    }
    if (this.queued > QUEUE_HIGH && !this.sourcePaused) {
      this.sourcePaused = true;
      this.src.pause();
    }
    this.arm();
  }

  private arm(): void {
    if (this.timer !== null || this.queue.length === 0 || this.dark || this.conn.dead) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.run();
      },
      Math.max(0, this.queue[0].at - performance.now()),
    );
  }

  private run(): void {
    const t = performance.now();
    while (this.queue.length > 0 && !this.dark && !this.conn.dead && this.queue[0].at <= t) {
      const p = this.queue.shift()!;
      this.queued -= p.bytes.length;
      if (this.cut !== null && p.bytes.length >= this.cut.left) {
        const { left, mode } = this.cut;
        this.cut = null;
        this.write(p.bytes.subarray(0, left));
        this.conn.sever(mode);
        return;
      }
      if (this.cut !== null) this.cut.left -= p.bytes.length;
      this.write(p.bytes);
    }
    if (this.sourcePaused && this.queued < QUEUE_HIGH / 2 && !this.dark) {
      this.sourcePaused = false;
      this.src.resume();
    }
    this.arm();
  }

  private write(b: Buffer): void {
    if (b.length === 0) return;
    this.forwarded += b.length;
    this.dst.write(b);
  }

  /** Stops moving anything: reading stops (the sender's kernel buffers fill), nothing is written. */
  goDark(): void {
    this.dark = true;
    this.stop();
    this.queue.length = 0;
    this.queued = 0;
    this.src.pause();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

class ProxiedConnection {
  readonly up: Lane;
  readonly down: Lane;
  dead = false;

  constructor(
    proxy: FaultyProxy,
    readonly client: net.Socket,
    readonly server: net.Socket,
  ) {
    this.up = new Lane(proxy, this, client, server);
    this.down = new Lane(proxy, this, server, client);
    // A side that ends or fails takes the other with it, as a real middlebox would pass it on.
    const onEnd = (other: net.Socket) => () => {
      if (this.dead || this.up.dark) return;
      other.end();
    };
    client.on('end', onEnd(server));
    server.on('end', onEnd(client));
    const onError = (): void => {
      if (this.up.dark) return;
      this.destroy();
    };
    client.on('error', onError);
    server.on('error', onError);
    client.on('close', () => this.maybeGone(proxy));
    server.on('close', () => this.maybeGone(proxy));
  }

  goDark(): void {
    this.up.goDark();
    this.down.goDark();
  }

  sever(mode: 'reset' | 'truncate'): void {
    this.dead = true;
    this.up.stop();
    this.down.stop();
    if (mode === 'reset') {
      this.client.resetAndDestroy();
      this.server.resetAndDestroy();
    } else {
      // A clean FIN both ways; whatever comes back is read and thrown away so the sockets finish.
      this.client.end();
      this.server.end();
      this.client.resume();
      this.server.resume();
    }
  }

  reset(): void {
    this.sever('reset');
  }

  destroy(): void {
    this.dead = true;
    this.up.stop();
    this.down.stop();
    this.client.destroy();
    this.server.destroy();
  }

  private maybeGone(proxy: FaultyProxy): void {
    if (this.client.destroyed && this.server.destroyed) {
      this.up.stop();
      this.down.stop();
      proxy.forget(this);
    }
  }
}

export class FaultyProxy {
  shape: ProxyShape;
  private readonly server: net.Server;
  private readonly conns = new Set<ProxiedConnection>();
  /** New connections are swallowed silently too while this is set. */
  private darkNew = false;
  private readonly swallowed = new Set<net.Socket>();
  private _port = 0;
  /** Connections accepted in total. */
  accepted = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    shape: ProxyShape,
  ) {
    this.shape = { ...shape };
    this.server = net.createServer((client) => this.onClient(client));
  }

  /** Starts a proxy on 127.0.0.1 (an ephemeral port) in front of `target`. */
  static async start(target: { host?: string; port: number }, shape: ProxyShape = {}): Promise<FaultyProxy> {
    const p = new FaultyProxy({ host: target.host ?? '127.0.0.1', port: target.port }, shape);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => {
        p.server.off('error', reject);
        resolve();
      });
    });
    p._port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get port(): number {
    return this._port;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this._port}`;
  }

  /** Live proxied connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** Points later connections at another server (e.g. a restarted switcher on a new port). */
  retarget(port: number): void {
    this.target.port = port;
  }

  /** The link goes dark: nothing moves on any connection, old or new, and nobody is told. */
  blackhole(): void {
    this.darkNew = true;
    for (const c of this.conns) c.goDark();
  }

  /** New connections work again; the ones that went dark stay dark. */
  heal(): void {
    this.darkNew = false;
  }

  /** Every live connection gets a RST on both sides. */
  resetAll(): void {
    for (const c of [...this.conns]) c.reset();
  }

  /** On every live connection: after `bytes` more bytes in `dir`, reset or truncate (FIN). */
  cutAfter(bytes: number, mode: 'reset' | 'truncate', dir: Direction = 'down'): void {
    for (const c of this.conns) (dir === 'up' ? c.up : c.down).cut = { left: bytes, mode };
  }

  /** Bytes forwarded per direction, over live connections. */
  forwarded(): { up: number; down: number } {
    let up = 0;
    let down = 0;
    for (const c of this.conns) {
      up += c.up.forwarded;
      down += c.down.forwarded;
    }
    return { up, down };
  }

  /** @internal */
  forget(c: ProxiedConnection): void {
    this.conns.delete(c);
  }

  async close(): Promise<void> {
    for (const c of [...this.conns]) c.destroy();
    this.conns.clear();
    for (const s of this.swallowed) s.destroy();
    this.swallowed.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onClient(client: net.Socket): void {
    this.accepted++;
    client.on('error', () => {});
    if (this.darkNew) {
      // Accepted by the kernel, then nothing: the SYN worked, the path is dead.
      client.pause();
      this.swallowed.add(client);
      client.on('close', () => this.swallowed.delete(client));
      return;
    }
    client.pause();
    const server = net.connect({ host: this.target.host, port: this.target.port });
    server.on('error', () => {});
    server.setNoDelay(true);
    client.setNoDelay(true);
    const conn = new ProxiedConnection(this, client, server);
    this.conns.add(conn);
    server.once('connect', () => {
      if (!conn.dead && !conn.up.dark) client.resume();
    });
  }
}
