import { createHash } from 'node:crypto';
import { pipeline, Transform } from 'node:stream';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect, type FlexStream, type NodeSession, StreamResetError } from '../../src/index.js';
import type { Listener } from '../../src/node/listener.js';
import { pattern, readAll, sha256, writeAll } from '../helpers/streams.js';
import { describeBrowser, launchChromium, type OpenedPage, openPage } from './chromium.js';
import { type BrowserServer, harnessRoutes, startServer } from './fixture.js';
import type { ConnectOptions, ErrorInfo } from './harness/page.js';

/**
 * The browser build in real Chromium, against a switcher and a Node.js node on 127.0.0.1: Web
 * Crypto admission, the reconnecting session, and the Web Streams face with the same semantics as
 * the Node Duplex (flow control, half-close, reset), page to Node, Node to page and page to page.
 */

const PASSWORD = 'browser-secret';
const MiB = 1024 * 1024;
/** The default receive window: what a paused reader may have buffered at most. */
const WINDOW = 2 * MiB;
const POLL = { timeout: 10_000, interval: 20 };

interface EchoRecord {
  bytes: number;
  hash: string;
  err: Error | null | undefined;
}

describeBrowser('flexmux in Chromium', () => {
  let srv: BrowserServer;
  let browser: Browser;
  let nodejs: NodeSession;
  const echoes: ((r: EchoRecord) => void)[] = [];
  const pages: OpenedPage[] = [];
  const nodeListeners: Listener<FlexStream>[] = [];
  const nodeStreams: FlexStream[] = [];

  beforeAll(async () => {
    srv = await startServer(await harnessRoutes());
    nodejs = connect(srv.wsUrl, { password: PASSWORD, domain: 'nodejs' });
    await nodejs.ready({ timeout: 5_000 });
    // Port 7: a pipeline echo that hashes what passes through (node:crypto).
    nodejs.listen(7).on('stream', (s: FlexStream) => {
      const h = createHash('sha256');
      let bytes = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          bytes += chunk.length;
          cb(null, chunk);
        },
      });
      pipeline(s, tap, s, (err) => echoes.shift()?.({ bytes, hash: h.digest('hex'), err }));
    });
    browser = await launchChromium();
  }, 60_000);

  afterEach(async () => {
    const opened = pages.splice(0);
    for (const l of nodeListeners.splice(0)) l.close();
    for (const s of nodeStreams.splice(0)) s.destroy();
    await Promise.all(opened.map((p) => p.context.close()));
    for (const p of opened) expect(p.errors, 'errors in the page').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await nodejs?.close();
    await srv?.close();
  });

  async function newPage(): Promise<OpenedPage> {
    const p = await openPage(browser, `${srv.origin}/`);
    pages.push(p);
    await p.page.waitForFunction(() => document.body.dataset.ready === 'true');
    return p;
  }

  function join(p: OpenedPage, o: Omit<ConnectOptions, 'password'>, password = PASSWORD): Promise<number> {
    return p.page.evaluate(([url, o]) => window.flexTest.connect(url, o), [
      srv.wsUrl,
      { ...o, password },
    ] as const);
  }

  /** A Node.js listener for this test only. */
  function nodeListen(port: number): Listener<FlexStream> {
    const l = nodejs.listen(port);
    nodeListeners.push(l);
    return l;
  }

  async function nodeAccept(l: Listener<FlexStream>): Promise<FlexStream> {
    const s = await l.accept();
    nodeStreams.push(s);
    return s;
  }

  function nextEcho(): Promise<EchoRecord> {
    return new Promise((resolve) => echoes.push(resolve));
  }

  function errorOf(s: FlexStream): Promise<Error> {
    return new Promise((resolve) => s.once('error', resolve));
  }

  it('admits with Web Crypto, gets its virtual IP, and pings the switcher and a Node.js node', async () => {
    const p = await newPage();
    const ip = await join(p, { domain: 'admitted' });
    expect(ip).toBe(srv.switcher.client('admitted')?.ip);
    expect(ip).toBeGreaterThan(0);
    const [toSwitcher, toNode] = await p.page.evaluate(async () => [
      await window.flexTest.ping(''),
      await window.flexTest.ping('nodejs'),
    ]);
    expect(toSwitcher).toBeGreaterThanOrEqual(0);
    expect(toNode).toBeGreaterThanOrEqual(0);
    // And the other way: the Node.js node pings the page.
    expect(await nodejs.ping('admitted')).toBeGreaterThanOrEqual(0);
  });

  it('is refused with an AdmissionError for a wrong password', async () => {
    const p = await newPage();
    const refused = new Promise((resolve) => srv.switcher.once('refused', resolve));
    const err = await p.page.evaluate(
      ([url]) =>
        window.flexTest.connect(url, { password: 'wrong', domain: 'intruder', reconnect: false }).then(
          () => null,
          (e: unknown) => window.flexTest.errorInfo(e),
        ),
      [srv.wsUrl] as const,
    );
    // The switcher seals its refusal with its own password, which the page cannot open.
    expect(err).toMatchObject({
      name: 'AdmissionError',
      instanceOf: ['FlexError', 'AdmissionError'],
      code: 'FLEX_ERR_ADMISSION_REJECTED',
      reason: 'decrypt',
    });
    await refused;
    expect(srv.switcher.client('intruder')).toBeUndefined();
  });

  it('moves 8 MiB through a Node.js echo service, SHA-256 checked in the page and in Node', async () => {
    const p = await newPage();
    await join(p, { domain: 'mover' });
    const size = 8 * MiB;
    const expected = sha256(pattern(size, 42));
    const echoed = nextEcho();
    const r = await p.page.evaluate(([n]) => window.flexTest.transfer('nodejs:7', n, 42), [size] as const);
    const node = await echoed;
    expect(node.err ?? null).toBeNull();
    expect(node).toMatchObject({ bytes: size, hash: expected });
    expect(r).toMatchObject({ received: size, sentHash: expected, receivedHash: expected });
  });

  it('accepts a stream dialled by a Node.js node; both sides half-close', async () => {
    const p = await newPage();
    await join(p, { domain: 'acceptor' });
    await p.page.evaluate(() => window.flexTest.listen(9));
    const s = await nodejs.dial('acceptor:9');
    nodeStreams.push(s);
    const reply = readAll(s);
    s.end('hello from node');
    const got = await p.page.evaluate(async () => {
      const { id, remoteDomain } = await window.flexTest.accept(9);
      const req = await window.flexTest.readText(id);
      await window.flexTest.write(id, `page got "${req.text}" from ${remoteDomain}`);
      await window.flexTest.closeWrite(id);
      return req;
    });
    expect(got).toEqual({ text: 'hello from node', bytes: 15 });
    expect(String(await reply)).toBe('page got "hello from node" from nodejs');
  });

  it('half-close: the page closes its writable and still reads the reply', async () => {
    const l = nodeListen(8);
    void nodeAccept(l).then(async (s) => {
      const req = String(await readAll(s));
      s.end(`answer to "${req}"`);
    });
    const p = await newPage();
    await join(p, { domain: 'asker' });
    const r = await p.page.evaluate(async () => {
      const id = await window.flexTest.dial('nodejs:8');
      await window.flexTest.write(id, 'question');
      await window.flexTest.closeWrite(id);
      return window.flexTest.readText(id);
    });
    expect(r).toEqual({ text: 'answer to "question"', bytes: 20 });
  });

  it('reset from the page: aborting the writable or cancelling the readable resets Node with the code', async () => {
    const l = nodeListen(5);
    const p = await newPage();
    await join(p, { domain: 'aborter' });

    const first = nodeAccept(l);
    const id1 = await p.page.evaluate(() => window.flexTest.dial('nodejs:5'));
    const s1 = await first;
    const err1 = errorOf(s1);
    await p.page.evaluate(
      async ([id]) => {
        await window.flexTest.write(id, 'partial');
        await window.flexTest.abort(id, 0x1234);
      },
      [id1] as const,
    );
    const e1 = await err1;
    expect(e1).toBeInstanceOf(StreamResetError);
    expect(e1).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET', resetCode: 0x1234, remote: true });

    const second = nodeAccept(l);
    const id2 = await p.page.evaluate(() => window.flexTest.dial('nodejs:5'));
    const s2 = await second;
    const err2 = errorOf(s2);
    await p.page.evaluate(([id]) => window.flexTest.cancel(id, 0x4321), [id2] as const);
    expect(await err2).toMatchObject({ code: 'FLEX_ERR_STREAM_RESET', resetCode: 0x4321, remote: true });
  });

  it('reset from Node: the page reader fails with StreamResetError and the code', async () => {
    const l = nodeListen(5);
    const p = await newPage();
    await join(p, { domain: 'victim' });
    const accepted = nodeAccept(l);
    const id = await p.page.evaluate(() => window.flexTest.dial('nodejs:5'));
    const s = await accepted;
    s.on('error', () => {});
    s.write('some bytes first');
    // A reset is abortive: data still queued may be dropped, so reset once it has arrived.
    const head = await p.page.evaluate(([id]) => window.flexTest.readSome(id, 16), [id] as const);
    expect(head.text).toBe('some bytes first');
    const reading = p.page.evaluate(([id]) => window.flexTest.readText(id), [id] as const);
    s.destroy(Object.assign(new Error('stop'), { resetCode: 0x2345 }));
    const r = await reading;
    expect(r.bytes).toBe(0);
    // The name and instanceof survive minification (the bundle's class names are mangled).
    expect(r.error).toMatchObject<Partial<ErrorInfo>>({
      name: 'StreamResetError',
      instanceOf: ['FlexError', 'StreamResetError'],
      code: 'FLEX_ERR_STREAM_RESET',
      resetCode: 0x2345,
      remote: true,
    });
    // Writing afterwards fails too.
    const w = await p.page.evaluate(
      ([id]) =>
        window.flexTest.write(id, 'late').then(
          () => 'written',
          (e: Error & { code?: string }) => e.code,
        ),
      [id] as const,
    );
    expect(w).toMatch(/^FLEX_ERR_STREAM_(RESET|CLOSED)$/);
  });

  it('flow control: a page that does not read stops a Node.js writer at the window; other streams flow', async () => {
    const p = await newPage();
    await join(p, { domain: 'slowpage' });
    await p.page.evaluate(() => window.flexTest.listen(6));
    const s = await nodejs.dial('slowpage:6');
    nodeStreams.push(s);
    const size = 8 * MiB;
    const data = pattern(size, 7);
    let finished = false;
    const writing = writeAll(s, data).then(() => {
      finished = true;
    });
    const id = await p.page.evaluate(async () => (await window.flexTest.accept(6)).id);
    await expect.poll(() => s.core.sendCredit, POLL).toBe(0);
    // Credit is spent as the writer frames its bytes, before they reach the page: wait for them.
    // (Checked once, it found the page's buffer still empty on a loaded CI machine.)
    const buffered = async () =>
      (await p.page.evaluate(([id]) => window.flexTest.streamInfo(id), [id] as const)).receiveBuffered;
    await expect.poll(buffered, POLL).toBeGreaterThan(0);
    expect(await buffered()).toBeLessThanOrEqual(WINDOW);
    expect(finished).toBe(false);
    // One stalled stream does not stall the connection.
    const echoed = nextEcho();
    const other = await p.page.evaluate(() => window.flexTest.transfer('nodejs:7', 256 * 1024, 3));
    expect(other.received).toBe(256 * 1024);
    await echoed;
    expect(finished).toBe(false);
    // Reading releases the writer, and every byte arrives intact.
    const got = await p.page.evaluate(([id]) => window.flexTest.drain(id), [id] as const);
    await writing;
    expect(got).toEqual({ bytes: size, hash: sha256(data) });
  });

  it('flow control: a Node.js reader that does not read stops the page writer', async () => {
    const l = nodeListen(6);
    const p = await newPage();
    await join(p, { domain: 'fastpage' });
    const accepted = nodeAccept(l);
    const size = 8 * MiB;
    const id = await p.page.evaluate(
      ([n]) => {
        return window.flexTest.dial('nodejs:6').then((id) => {
          window.flexTest.flood(id, n, 11);
          return id;
        });
      },
      [size] as const,
    );
    const s = await accepted;
    s.pause();
    await expect
      .poll(() => p.page.evaluate(([id]) => window.flexTest.floodState(id).sendCredit, [id] as const), POLL)
      .toBe(0);
    const stalled = await p.page.evaluate(([id]) => window.flexTest.floodState(id), [id] as const);
    expect(stalled.done).toBe(false);
    expect(stalled.written).toBeLessThan(size);
    expect(s.core.receiveBuffered).toBeLessThanOrEqual(WINDOW);
    const got = readAll(s);
    s.resume();
    const done = await p.page.evaluate(([id]) => window.flexTest.floodDone(id), [id] as const);
    expect(done).toMatchObject({ done: true, written: size });
    expect(done.error).toBeUndefined();
    expect(sha256(await got)).toBe(sha256(pattern(size, 11)));
  });

  it('two pages talk to each other through the switcher', async () => {
    const a = await newPage();
    const b = await newPage();
    await join(a, { domain: 'alpha' });
    await join(b, { domain: 'beta' });
    await b.page.evaluate(() => {
      window.flexTest.listen(5);
      window.flexTest.serveEcho(7);
    });
    const served = b.page.evaluate(async () => {
      const { id, remoteDomain } = await window.flexTest.accept(5);
      const req = await window.flexTest.readText(id);
      await window.flexTest.write(id, `hi ${remoteDomain}, you said "${req.text}"`);
      await window.flexTest.closeWrite(id);
    });
    const reply = await a.page.evaluate(async () => {
      const id = await window.flexTest.dial('beta:5');
      await window.flexTest.write(id, 'hello beta');
      await window.flexTest.closeWrite(id);
      return (await window.flexTest.readText(id)).text;
    });
    await served;
    expect(reply).toBe('hi alpha, you said "hello beta"');
    const bulk = await a.page.evaluate(() => window.flexTest.transfer('beta:7', 2 * 1024 * 1024, 5));
    const expected = sha256(pattern(2 * MiB, 5));
    expect(bulk).toMatchObject({ received: 2 * MiB, sentHash: expected, receivedHash: expected });
  });

  it('the session reconnects after the switcher drops it and serves its listeners again', async () => {
    const p = await newPage();
    await join(p, { domain: 'phoenix', backoffInitial: 50 });
    await p.page.evaluate(() => window.flexTest.serveEcho(9));
    const echoOnce = async (text: string): Promise<string> => {
      const s = await nodejs.dial('phoenix:9');
      nodeStreams.push(s);
      const got = readAll(s);
      s.end(text);
      return String(await got);
    };
    expect(await echoOnce('before')).toBe('before');
    const firstIp = srv.switcher.client('phoenix')?.ip;
    expect(srv.switcher.kick('phoenix')).toBe(true);
    const ip = await p.page.evaluate(() => window.flexTest.admitted(2));
    expect(srv.switcher.client('phoenix')?.ip).toBe(ip);
    expect(firstIp).toBeGreaterThan(0);
    const info = await p.page.evaluate(() => window.flexTest.session());
    expect(info).toMatchObject({ state: 'ready', connections: 2 });
    expect(info.disconnects.length).toBeGreaterThanOrEqual(1);
    expect(await echoOnce('after')).toBe('after');
  });
});
