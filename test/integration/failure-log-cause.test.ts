import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serveExpose, serveForward } from '../../src/cli/node.js';
import { connect, type NodeSession } from '../../src/connect.js';
import { ConnectionClosedError } from '../../src/errors.js';
import type { FlexStream } from '../../src/face/duplex.js';
import { Node } from '../../src/index.js';
import { splice } from '../../src/splice.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';
import { dialTcp, listenTcp as listenDirect } from '../../src/transport/tcp.js';
import { type CapturingLogger, captureLogger, type LogEntry } from '../helpers/faulty-log.js';
import { FaultyProxy } from '../helpers/faulty-proxy.js';
import { nextEvent } from '../helpers/faulty-streams.js';
import { freePort } from '../helpers/ports.js';

/**
 * The log lines that report a failure name the runtime's code behind flexmux's, as 'session
 * attempt failed' does (session-attempt-log.test.ts): a connection reset under a session, a
 * tunnel or a direct node was FLEX_ERR_CONNECTION_CLOSED, or no code at all, and ECONNRESET was
 * only in the free text; a refused --expose target was logged with no code at all.
 */

const HOST = '127.0.0.1';
const PASSWORD = 'cause-pw';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A capturing logger whose `next(msg)` resolves with the first line `msg` logged (within 5 s). */
function watchedLogger(): CapturingLogger & { next(msg: string): Promise<LogEntry> } {
  const logger = captureLogger();
  const waiters: { msg: string; found: (e: LogEntry) => void }[] = [];
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    const add = logger[level];
    logger[level] = (obj, msg) => {
      add(obj, msg);
      const entry = logger.entries.at(-1)!;
      for (const w of waiters.filter((w) => w.msg === entry.msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.found(entry);
      }
    };
  }
  const next = (msg: string): Promise<LogEntry> => {
    const logged = logger.find(msg)[0];
    if (logged !== undefined) return Promise.resolve(logged);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${msg}' line within 5 s`)), 5_000);
      waiters.push({
        msg,
        found: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  };
  return Object.assign(logger, { next });
}

const tunnels = { splice: (stream: FlexStream, socket: net.Socket) => splice(socket, stream) };

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as net.AddressInfo).port;
}

async function session(url: string, domain: string, logger: CapturingLogger): Promise<NodeSession> {
  const s = connect(url, { password: PASSWORD, domain, reconnect: false, logger });
  cleanups.push(() => s.close());
  await s.ready();
  return s;
}

/**
 * A switcher with bob exposing virtual port 7 on `target` and alice, whose connection goes
 * through a proxy that can reset it, forwarding a local port to bob:7, as `flexmux node` does.
 */
async function tunnel(target: number): Promise<{
  bobLog: ReturnType<typeof watchedLogger>;
  aliceLog: ReturnType<typeof watchedLogger>;
  proxy: FaultyProxy;
  client(): net.Socket;
}> {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 1_000 }));
  const l = await listenTcp(sw, { host: HOST, port: 0 });
  cleanups.push(() => l.close());
  const proxy = await FaultyProxy.start({ port: l.address.port });
  cleanups.push(() => proxy.close());
  const bobLog = watchedLogger();
  const bob = await session(`tcp://${HOST}:${l.address.port}`, 'bob', bobLog);
  serveExpose(bob, { port: 7, target: { host: HOST, port: target } }, tunnels, bobLog);
  const aliceLog = watchedLogger();
  const alice = await session(proxy.url, 'alice', aliceLog);
  const forward = await serveForward(
    alice,
    { localPort: 0, domain: 'bob', port: 7 },
    { bind: HOST, dialTimeout: 5_000 },
    tunnels,
    aliceLog,
  );
  cleanups.push(() => new Promise((resolve) => forward.close(resolve)));
  const port = (forward.address() as net.AddressInfo).port;
  const client = (): net.Socket => {
    const c = net.connect({ host: HOST, port });
    c.on('error', () => {});
    cleanups.push(() => c.destroy());
    return c;
  };
  return { bobLog, aliceLog, proxy, client };
}

describe("failure log lines name the runtime's code", () => {
  it('a forwarded connection whose target refuses: ECONNREFUSED on the exposing side', async () => {
    const refusing = await freePort();
    const { bobLog, aliceLog, client } = await tunnel(refusing);
    client();
    const exposed = await bobLog.next('exposed connection failed');
    // Before: `err` alone, the code only inside its text.
    expect(exposed.fields).toMatchObject({ port: 7, target: `${HOST}:${refusing}`, code: 'ECONNREFUSED' });
    // The forwarding side hears a reset: the runtime's code does not cross the wire, its text does.
    const forwarded = await aliceLog.next('forwarded connection failed');
    expect(forwarded.fields).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET' });
    expect(forwarded.fields.err).toMatch(/ECONNREFUSED/);
  });

  it('a session, and a tunnel through it, cut by a reset connection: ECONNRESET', async () => {
    const echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const { aliceLog, proxy, client } = await tunnel(await listening(echo));
    const c = client();
    c.write('ping');
    await nextEvent(c, 'data', 5_000);
    proxy.resetAll();
    const lost = await aliceLog.next('session disconnected');
    // Before: `err` alone (no code either), ECONNRESET only in its text.
    expect(lost.fields).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', cause: 'ECONNRESET' });
    const forwarded = await aliceLog.next('forwarded connection failed');
    expect(forwarded.fields).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', cause: 'ECONNRESET' });
  });

  it("a forwarded connection's dial cut by a reset connection: 'dial failed' says ECONNRESET", async () => {
    // What a dial waiting for its answer fails with when the connection is reset under it.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const transport = new ConnectionClosedError('connection to 127.0.0.1:1 failed: read ECONNRESET', {
      cause: reset,
    });
    const dialErr = new ConnectionClosedError('connection closed', { cause: transport });
    const logger = watchedLogger();
    const forward = await serveForward(
      { dial: () => Promise.reject(dialErr) } as unknown as Pick<NodeSession, 'dial'>,
      { localPort: 0, domain: 'bob', port: 7 },
      { bind: HOST, dialTimeout: 1_000 },
      tunnels,
      logger,
    );
    cleanups.push(() => new Promise((resolve) => forward.close(resolve)));
    const c = net.connect({ host: HOST, port: (forward.address() as net.AddressInfo).port });
    c.on('error', () => {});
    cleanups.push(() => c.destroy());
    const failed = await logger.next('dial failed');
    expect(failed.fields).toMatchObject({
      target: 'bob:7',
      code: 'FLEX_ERR_CONNECTION_CLOSED',
      cause: 'ECONNRESET',
    });
  });

  it("a direct node's connection reset under it: 'connection closed' says ECONNRESET", async () => {
    const server = await listenDirect({ host: HOST, port: 0 }, (t) => {
      const bob = new Node(t, { domain: 'bob' });
      cleanups.push(() => bob.destroy());
    });
    cleanups.push(() => server.close());
    const proxy = await FaultyProxy.start({ port: server.address.port });
    cleanups.push(() => proxy.close());
    const logger = watchedLogger();
    const alice = new Node(await dialTcp(HOST, proxy.port), { domain: 'alice', logger });
    alice.on('error', () => {});
    cleanups.push(() => alice.destroy());
    await alice.ping();
    proxy.resetAll();
    const closed = await logger.next('connection closed');
    expect(closed.fields).toMatchObject({ code: 'FLEX_ERR_CONNECTION_CLOSED', cause: 'ECONNRESET' });
  });
});
