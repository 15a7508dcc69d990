import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { ConnectOpts } from '../../src/cli/options.js';
import { openWaiting } from '../../src/cli/session.js';
import { connect, type NodeSession } from '../../src/connect.js';
import { AdmissionError, ProtocolError } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenWs } from '../../src/switcher-node.js';

/**
 * The session of `flexmux dial|ping --wait-for-target` (openWaiting) gives up on the failures a
 * session's ready() gives up on, and on no others: before, it ended the command at a domain held
 * by a live node (which ready() waits through, as the holder may leave, or be a node's own
 * connection from before its restart, taken over), and waited out its whole timeout on a port
 * that answers in HTTP (which ready() rejects at once).
 */

const PASSWORD = 'open-waiting';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.unstubAllEnvs();
});

const silent = pino({ level: 'silent' });

function opts(url: string): ConnectOpts {
  return { switcher: url, connectTimeout: 5_000, logLevel: 'error', logFormat: 'json' };
}

/** A switcher on 127.0.0.1 TCP; resolves with its URL. */
async function switcher(): Promise<{ sw: Switcher; url: string }> {
  const sw = new Switcher({ password: PASSWORD, failedAdmissionBurst: 0 });
  cleanups.push(() => sw.close({ timeout: 1_000 }));
  const listener = await listenTcp(sw, { host: '127.0.0.1', port: 0 });
  cleanups.push(() => listener.close());
  return { sw, url: `tcp://127.0.0.1:${listener.address.port}` };
}

/** openWaiting() with `password` in the environment, as the CLI reads it. */
function waiting(url: string, domain: string, password = PASSWORD): ReturnType<typeof openWaiting> {
  vi.stubEnv('FLEXMUX_PASSWORD', password);
  const w = openWaiting(opts(url), domain, silent);
  cleanups.push(() => w.session.close());
  cleanups.push(w.dispose);
  return w;
}

/** Resolves with the failures of the session's next `n` attempts. */
function failures(s: NodeSession, n: number): Promise<Error[]> {
  return new Promise((resolve) => {
    const seen: Error[] = [];
    const on = (err: Error): void => {
      seen.push(err);
      if (seen.length < n) return;
      s.off('disconnect', on);
      resolve(seen);
    };
    s.on('disconnect', on);
  });
}

/** `failed`'s error if it rejects before the session's next `n` attempts all fail, else 'waiting'. */
function beforeFailures(failed: Promise<never>, s: NodeSession, n: number): Promise<unknown> {
  return Promise.race([failed.catch((e: unknown) => e), failures(s, n).then(() => 'waiting')]);
}

describe('openWaiting: what ends the wait', () => {
  it('waits through a domain held by a live node, and is admitted once that node leaves', async () => {
    const { url } = await switcher();
    const holder = connect(url, { password: PASSWORD, domain: 'held', heartbeatInterval: 0 });
    cleanups.push(() => holder.close());
    await holder.ready({ timeout: 5_000 });
    const w = waiting(url, 'held');
    const seen = failures(w.session, 2);
    // Before: `failed` rejected with the first refusal, and the command exited 3.
    expect(await beforeFailures(w.failed, w.session, 2)).toBe('waiting');
    for (const e of await seen) expect(e).toMatchObject({ reason: 'registration' });
    const admitted = new Promise((resolve) => w.session.once('ready', resolve));
    await holder.close();
    await admitted;
    expect(w.session.state).toBe('ready');
  });

  it('ends at a port that answers in HTTP, as ready() does', async () => {
    const http = createServer((_req, res) => res.end('not flex\n'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => http.close(resolve)));
    http.on('connection', (sock) => cleanups.push(() => sock.destroy()));
    const w = waiting(`tcp://127.0.0.1:${(http.address() as AddressInfo).port}`, 'lost');
    // Before: it kept trying, for all of the command's timeout.
    const err = await beforeFailures(w.failed, w.session, 2);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/answered in HTTP/);
  });

  it('ends at a wrong password', async () => {
    const { url } = await switcher();
    const w = waiting(url, 'wrong', 'not-the-password');
    const err = await beforeFailures(w.failed, w.session, 2);
    expect(err).toBeInstanceOf(AdmissionError);
    expect((err as AdmissionError).reason).toBe('decrypt');
  });

  it('waits through a connection that worked and then failed with a ProtocolError', async () => {
    // A proxy in front of a ws:// switcher that sends a text message once the node is in: the
    // node's connection fails with a ProtocolError (ws.ts), as one whose proxy breaks the
    // WebSocket protocol does (WS_ERR_*). That is a lost connection, not a refused attempt: the
    // session reconnects (ready() waits for it), and the command's wait must go on too.
    const { sw } = await switcher();
    const ws = await listenWs(sw, { host: '127.0.0.1', port: 0 });
    cleanups.push(() => ws.close());
    const proxy = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => proxy.once('listening', resolve));
    cleanups.push(() => new Promise((resolve) => proxy.close(resolve)));
    const downs: WebSocket[] = [];
    proxy.on('connection', (down) => {
      downs.push(down);
      const up = new WebSocket(`ws://127.0.0.1:${ws.address.port}/flex/ws`);
      const early: Buffer[] = [];
      up.on('open', () => {
        for (const m of early.splice(0)) up.send(m);
      });
      down.on('message', (m: Buffer) => (up.readyState === WebSocket.OPEN ? up.send(m) : early.push(m)));
      up.on('message', (m: Buffer) => down.send(m));
      down.on('close', () => up.close());
      up.on('close', () => down.close());
      down.on('error', () => {});
      up.on('error', () => {});
    });
    cleanups.push(() => {
      for (const d of downs) d.terminate();
    });
    const port = (proxy.address() as AddressInfo).port;
    const w = waiting(`ws://127.0.0.1:${port}/flex/ws`, 'broken');
    await w.session.ready({ timeout: 5_000 });
    const lost = new Promise<Error>((resolve) => w.session.once('disconnect', resolve));
    downs[0].send('not binary');
    expect(await lost).toBeInstanceOf(ProtocolError);
    const back = new Promise((resolve) => w.session.once('ready', resolve));
    // Before: `failed` rejected with the ProtocolError at once, and the command ended.
    const end = await Promise.race([w.failed.catch((e: unknown) => e), back.then(() => 'admitted')]);
    expect(end).toBe('admitted');
  });
});
