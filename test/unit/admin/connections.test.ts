import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../../src/admin/index.js';
import { Node } from '../../../src/index.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { captureLogger } from '../../helpers/faulty-log.js';

/**
 * maxConnections against a crowd without the token. New connections used to be closed on arrival
 * once the cap was reached, so a client that asked the public /healthz every 4 s (within the 5 s
 * keep-alive) held its connections for good, and 64 of them kept the operator out of the API.
 * Now the oldest connection that has not shown the token is closed to make room; one that has
 * shown it is closed only by its own timeouts.
 */

const TOKEN = 'connections-token-7d3e';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function admin(logger = captureLogger()): Promise<AdminServer> {
  const sw = new Switcher({ password: 'connections' });
  cleanups.push(() => sw.close({ timeout: 300 }));
  const a = await startAdmin({ switcher: sw, port: 0, token: TOKEN, maxConnections: 4, logger });
  cleanups.push(() => a.close());
  return a;
}

/** flexmux_admin_connections_closed_total by reason, read from the registry (no connection). */
async function closedByReason(a: AdminServer): Promise<Record<string, number>> {
  const m = await a.registry.getSingleMetric('flexmux_admin_connections_closed_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

const TOO_MANY = 'admin connections closed: too many open';

/** A kept-alive raw HTTP/1.1 connection. */
interface Client {
  readonly s: Socket;
  /** Whether the server has closed it. */
  closed(): boolean;
  /** Resolves once the server has closed it; rejects after 5 s. */
  whenClosed(): Promise<void>;
  /** Sends GET `path` (with the token if `token`) and resolves with the answer's status. */
  get(path: string, token?: boolean): Promise<number>;
}

/** Statuses of the complete answers in `text` (each with a Content-Length). */
function statuses(text: string): number[] {
  const out: number[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const head = text.slice(at, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (text.length < end + 4 + length) return out;
    out.push(Number(head.slice(9, 12)));
    at = end + 4 + length;
  }
}

async function client(port: number): Promise<Client> {
  const s = connect(port, '127.0.0.1');
  cleanups.push(() => s.destroy());
  s.on('error', () => {});
  let text = '';
  let isClosed = false;
  let wake = (): void => {};
  s.on('data', (c: Buffer) => {
    text += c.toString('latin1');
    wake();
  });
  s.on('close', () => {
    isClosed = true;
    wake();
  });
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  const until = (done: () => boolean, what: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not within 5 s: ${what}`)), 5_000);
      wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        resolve();
      };
      wake();
    });
  return {
    s,
    closed: () => isClosed,
    whenClosed: () => until(() => isClosed, 'closed by the server'),
    async get(path, token = false) {
      const n = statuses(text).length;
      const auth = token ? `Authorization: Bearer ${TOKEN}\r\n` : '';
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`);
      await until(() => statuses(text).length > n || isClosed, `an answer to ${path}`);
      const all = statuses(text);
      if (all.length === n) throw new Error(`closed before answering ${path}`);
      return all[n];
    },
  };
}

/** `n` connections kept alive by the public /healthz, opened one after another. */
async function crowd(port: number, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = await client(port);
    expect(await c.get('/healthz')).toBe(200);
    out.push(c);
  }
  return out;
}

describe('admin server connections at maxConnections', () => {
  it('a crowd without the token that keeps its connections alive does not keep the operator out', async () => {
    const a = await admin();
    const outsiders = await crowd(a.port, 4);
    const operator = await client(a.port);
    expect(await operator.get('/api/v1/info', true)).toBe(200);
    // Room was made by closing the oldest outsider.
    await outsiders[0].whenClosed();
    expect(outsiders.slice(1).some((c) => c.closed())).toBe(false);

    // More outsiders push each other out, never the connection that showed the token.
    const more = await crowd(a.port, 6);
    for (const c of [...outsiders.slice(1), ...more.slice(0, 3)]) await c.whenClosed();
    expect(more.slice(3).some((c) => c.closed())).toBe(false);
    expect(operator.closed()).toBe(false);
    expect(await operator.get('/api/v1/info', true)).toBe(200);
  });

  // A connection the server has destroyed still counted until its 'close', a turn of the event
  // loop later, while Node's own count had dropped at once: one that arrived in between found
  // every slot taken, and with no connection to close for it, was turned away as `full`. Here an
  // operator's connection is reset (the server destroys its end on the read error) and the
  // operator's new one arrives in the same turn.
  it('a connection that arrives as another is reset takes its place, whoever held the slots', async () => {
    const a = await admin();
    const operators: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await client(a.port);
      expect(await c.get('/api/v1/info', true)).toBe(200);
      operators.push(c);
    }
    for (let round = 0; round < 4; round++) {
      const gone = operators.shift()!;
      gone.s.resetAndDestroy();
      const next = await client(a.port);
      expect(await next.get('/api/v1/info', true)).toBe(200);
      expect(next.closed()).toBe(false);
      operators.push(next);
    }
    expect(operators.some((c) => c.closed())).toBe(false);
    expect(await closedByReason(a)).toEqual({ full: 0, evicted: 0 });
  });

  // Node accepts every pending connection in one turn, each counted (and each evicted one
  // uncounted) at once: a burst without the token at the cap pushes out the oldest, and the
  // operator who comes last in it is served, none turned away by Node's own cap.
  it('a burst without the token at the cap leaves the operator who comes with it served', async () => {
    const a = await admin();
    const outsiders = await crowd(a.port, 4);
    const burst = await Promise.all(Array.from({ length: 12 }, () => client(a.port)));
    const operator = burst.at(-1)!;
    expect(await operator.get('/api/v1/info', true)).toBe(200);
    for (const c of [...outsiders, ...burst.slice(0, 8)]) await c.whenClosed();
    expect(burst.slice(8).some((c) => c.closed())).toBe(false);
    expect(await closedByReason(a)).toEqual({ full: 0, evicted: 12 });
  });

  it('when every connection has shown the token a new one is closed on arrival; a new token ends that', async () => {
    const a = await admin();
    const operators: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await client(a.port);
      expect(await c.get('/api/v1/info', true)).toBe(200);
      operators.push(c);
    }
    const turnedAway = await client(a.port);
    await turnedAway.whenClosed();
    expect(operators.some((c) => c.closed())).toBe(false);

    // A rotated token may have leaked: those connections count as strangers again, oldest first.
    a.setToken('connections-token-rotated');
    const next = await client(a.port);
    await operators[0].whenClosed();
    expect(next.closed()).toBe(false);
    expect(operators.slice(1).some((c) => c.closed())).toBe(false);
  });

  // An operator under attack saw these only in one warn line every 10 s, with one number for
  // both kinds: now they are counted by reason (both modes) and the line tells them apart.
  it('counts the connections closed to make room and those turned away, by reason', async () => {
    const logger = captureLogger();
    const a = await admin(logger);
    expect(await closedByReason(a)).toEqual({ full: 0, evicted: 0 });
    const outsiders = await crowd(a.port, 4);
    const operators: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await client(a.port);
      expect(await c.get('/api/v1/info', true)).toBe(200);
      operators.push(c);
    }
    for (const c of outsiders) await c.whenClosed();
    expect(await closedByReason(a)).toEqual({ full: 0, evicted: 4 });
    expect(logger.find(TOO_MANY)[0]?.fields).toEqual({ full: 0, evicted: 1, max: 4 });

    const turnedAway = await client(a.port);
    await turnedAway.whenClosed();
    expect(await closedByReason(a)).toEqual({ full: 1, evicted: 4 });
  });

  it('without a token, counts the connections Node turns away as full (node mode)', async () => {
    const [x, y] = memoryPair();
    const n = new Node(x, { domain: 'a', ip: 1 });
    const peer = new Node(y, { domain: 'b', ip: 2 });
    cleanups.push(() => {
      n.destroy();
      peer.destroy();
    });
    const logger = captureLogger();
    const a = await startAdmin({ node: n, port: 0, pingInterval: 60_000, maxConnections: 2, logger });
    cleanups.push(() => a.close());
    // Each has had an answer: the server has taken both in before the third arrives.
    await crowd(a.port, 2);
    const turnedAway = await client(a.port);
    await turnedAway.whenClosed();
    expect(await closedByReason(a)).toEqual({ full: 1, evicted: 0 });
    expect(logger.find(TOO_MANY).map((e) => e.fields)).toEqual([{ full: 1, evicted: 0, max: 2 }]);
  });
});
