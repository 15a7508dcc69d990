import { BaseNode, FlexStream, memoryPair, Session, type SessionOptions } from '../../src/index.js';
import { Switcher, type SwitcherOptions } from '../../src/switcher/index.js';

/**
 * A switcher with two sessions over memory transports and a stream between them that keeps
 * moving data (bob writes, alice echoes), for the admin API and dashboard tests.
 */

export type NodeSession = Session<FlexStream>;

export interface Traffic {
  sw: Switcher;
  alice: NodeSession;
  bob: NodeSession;
  /** Bytes bob has received back so far. */
  echoed(): number;
  /** Resolves once bob has received `n` more bytes than now. */
  more(n: number): Promise<void>;
  /** A session for `domain` on the same switcher. */
  session(domain: string, options?: Partial<SessionOptions>): NodeSession;
  /** A ready session for `domain` with one stream dialled to each of `targets`, in order. */
  dialFrom(domain: string, targets: readonly string[]): Promise<FlexStream[]>;
  close(): Promise<void>;
}

export const PASSWORD = 'admin-test';

export async function startTraffic(
  options: { aliceReconnect?: boolean; switcher?: Partial<SwitcherOptions> } = {},
): Promise<Traffic> {
  const sw = new Switcher({ ...options.switcher, password: PASSWORD });
  const sessions: NodeSession[] = [];
  const session = (domain: string, extra: Partial<SessionOptions> = {}): NodeSession => {
    const s = new Session<FlexStream>({
      connector: async () => {
        const [a, b] = memoryPair();
        sw.handle(b);
        return a;
      },
      makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
      password: PASSWORD,
      domain,
      backoffInitial: 50,
      ...extra,
    });
    s.on('disconnect', () => {});
    sessions.push(s);
    return s;
  };
  const alice = session('alice', { reconnect: options.aliceReconnect ?? false });
  const bob = session('bob');
  await Promise.all([alice.ready({ timeout: 5_000 }), bob.ready({ timeout: 5_000 })]);
  const streams: FlexStream[] = [];
  alice.listen(7).on('stream', (s: FlexStream) => {
    streams.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  const stream = await bob.dial('alice:7', { timeout: 5_000 });
  stream.on('error', () => {});
  streams.push(stream);

  let received = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  stream.on('data', (d: Buffer) => {
    received += d.length;
    for (const w of waiters.splice(0)) {
      if (received >= w.target) w.resolve();
      else waiters.push(w);
    }
  });
  // Keep a steady trickle: 32 KiB every 20 ms, never more than the stream accepts.
  const chunk = Buffer.alloc(32 * 1024, 0x61);
  const pump = setInterval(() => {
    if (!stream.destroyed && stream.writableLength < 256 * 1024) stream.write(chunk);
  }, 20);

  return {
    sw,
    alice,
    bob,
    echoed: () => received,
    more: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ target: received + n, resolve });
      }),
    session,
    dialFrom: async (domain, targets) => {
      const from = session(domain);
      await from.ready({ timeout: 5_000 });
      const out: FlexStream[] = [];
      for (const to of targets) {
        const s = await from.dial(to, { timeout: 5_000 });
        s.on('error', () => {});
        streams.push(s);
        out.push(s);
      }
      return out;
    },
    close: async () => {
      clearInterval(pump);
      for (const s of streams) s.destroy();
      await Promise.all(sessions.map((s) => s.close()));
      await sw.close({ timeout: 1_000 });
    },
  };
}

/** Retries `check` until it stops throwing, or throws its last error after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise<void>((r) => setImmediate(r));
      await new Promise<void>((r) => setTimeout(r, 20));
    }
  }
}

/** Parses Prometheus text exposition into `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m === null) throw new Error(`not a metrics line: ${line}`);
    // The exposition format allows NaN and ±Inf (prom-client writes "Nan").
    const special: Record<string, number> = { nan: Number.NaN, '+inf': Infinity, '-inf': -Infinity };
    const value = special[m[3].toLowerCase()] ?? Number(m[3]);
    if (Number.isNaN(value) && m[3].toLowerCase() !== 'nan') throw new Error(`bad value in: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, value);
  }
  return out;
}
