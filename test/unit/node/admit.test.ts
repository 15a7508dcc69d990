import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionError, ConfigError, ProtocolError, TimeoutError } from '../../../src/errors.js';
import { Node } from '../../../src/index.js';
import { admit } from '../../../src/node/admit.js';
import { foreignReply } from '../../../src/transport/foreign-reply.js';
import { type MemoryPairOptions, type MemoryTransport, memoryPair } from '../../../src/transport/memory.js';
import { dialTls } from '../../../src/transport/tls.js';
import { listenWs } from '../../../src/transport/ws.js';
import { sealResponse } from '../../../src/wire/admission/index.js';
import { Cmd, HEADER_SIZE, MAX_PAYLOAD } from '../../../src/wire/constants.js';
import { encodeFrame, makeFrame } from '../../../src/wire/frame.js';
import { cert, key } from '../transport/tls-fixture.js';

const PASSWORD = 'admit-unit';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A switcher end that answers the first request with `sendReply` and ignores the rest. Big
 * buffers by default, so that the largest reply fits without back-pressure.
 */
function switcherEnd(
  sendReply: (b: MemoryTransport) => void,
  options: MemoryPairOptions = { highWaterMark: 64 * 1024 * 1024 },
) {
  const [a, b] = memoryPair(options);
  // The check a Node.js TCP or TLS connection makes of a reply in another protocol (tcp.ts).
  Object.assign(a, { foreignReply });
  cleanups.push(
    () => a.destroy(),
    () => b.destroy(),
  );
  let answered = false;
  b.attach({
    data: () => {
      if (answered) return;
      answered = true;
      sendReply(b);
    },
    drain: () => {},
    close: () => {},
  });
  return { a, b };
}

/** A switcher that answers any request with this response, sealed with the right password. */
function answering(init: { errCode: number; ip?: number }) {
  return switcherEnd((b) => {
    void sealResponse(PASSWORD, init).then((frame) => b.send([frame]));
  }, {}).a;
}

describe('admit(): the virtual IP of an admitted response', () => {
  it.each([0, 0xffff])(
    'refuses IP %i (no node address: 0 is "this node", 0xFFFF the switcher) with a typed AdmissionError',
    async (ip) => {
      // Before: admit() returned the IP, and a Session then failed to make its node with a
      // ConfigError about an "ip" option the user never set, and closed for good.
      const err = await admit(answering({ errCode: 0, ip }), {
        password: PASSWORD,
        domain: 'bad-ip',
        timeout: 2_000,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AdmissionError);
      expect(err).toMatchObject({ errCode: 0, reason: 'json' });
      expect((err as Error).message).toContain(String(ip));
    },
  );

  it.each([1, 0xfffe])('accepts IP %i', async (ip) => {
    const admitted = await admit(answering({ errCode: 0, ip }), {
      password: PASSWORD,
      domain: 'good-ip',
      timeout: 2_000,
    });
    expect(admitted.ip).toBe(ip);
    admitted.transport.destroy();
  });
});

describe('admit(): its options', () => {
  it.each([2 ** 31, Number.NaN, 0, -1])(
    'a timeout of %d ms is a ConfigError, not a timeout after 1 ms',
    async (timeout) => {
      // Node runs a timer of over 2^31-1 ms (or NaN) after 1 ms: the admission failed at once.
      const t = answering({ errCode: 0, ip: 3 });
      const err = await admit(t, {
        password: PASSWORD,
        domain: 'opts',
        timeout,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect(t.closed).toBe(true);
    },
  );

  it('null options are a ConfigError naming admit(), and the connection is dropped', async () => {
    // They failed with "Cannot read properties of null (reading 'timeout')" and left it open.
    const t = answering({ errCode: 0, ip: 3 });
    const err = await admit(t, null as never).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('admit() options must be an object, got null');
    expect(t.closed).toBe(true);
  });

  it('the largest timer delay is fine', async () => {
    const admitted = await admit(answering({ errCode: 0, ip: 3 }), {
      password: PASSWORD,
      domain: 'opts',
      timeout: 2 ** 31 - 1,
    });
    expect(admitted.ip).toBe(3);
    admitted.transport.destroy();
  });
});

/** The sealed admission reply a switcher would send: a frame carrying the largest envelope there is. */
async function largestReply(ip: number): Promise<Uint8Array> {
  // An ErrMsg that fills the frame: the reply stays admissible (ErrCode 0), only long.
  const empty = await sealResponse(PASSWORD, { errCode: 0, ip, errMsg: '' });
  const room = HEADER_SIZE + MAX_PAYLOAD - empty.length;
  return sealResponse(PASSWORD, { errCode: 0, ip, errMsg: 'x'.repeat(room) });
}

describe('admit(): reading the reply', () => {
  // Regression (fixed: src/node/admit.ts keeps the chunks and joins them once). Every chunk of the
  // reply was joined to all the bytes before it in a new array: a reply that arrives a byte at a
  // time (a slow or hostile switcher, a proxy that re-chunks) cost ~n²/2 bytes copied, 2 GB for
  // the largest reply.
  it('copies a reply that arrives a byte at a time a bounded number of times, not once per chunk', async () => {
    const reply = await largestReply(7);
    expect(reply.length).toBe(HEADER_SIZE + MAX_PAYLOAD);
    const { a } = switcherEnd((b) => {
      for (let i = 0; i < reply.length; i++) b.send([reply.subarray(i, i + 1)]);
    });
    // Bytes copied by TypedArray.prototype.set, which every join uses.
    type SetFn = (this: Uint8Array, src: ArrayLike<number>, offset?: number) => void;
    const proto = Object.getPrototypeOf(Uint8Array.prototype) as { set: SetFn };
    const set = proto.set;
    let copied = 0;
    proto.set = function (this: Uint8Array, src: ArrayLike<number>, offset?: number) {
      copied += src.length;
      return set.call(this, src, offset);
    };
    try {
      const admitted = await admit(a, { password: PASSWORD, domain: 'slow', timeout: 60_000 });
      expect(admitted.ip).toBe(7);
      admitted.transport.destroy();
    } finally {
      proto.set = set;
    }
    // The memory link copies what is sent once; decryption and parsing copy a little more.
    expect(copied).toBeLessThan(8 * reply.length);
  });

  // Regression (fixed: admit() pauses reading once the reply is in, until the node attaches). The
  // transport went on reading while the reply was being opened (an asynchronous decryption), so
  // whatever the switcher sent meanwhile was held in memory without bound.
  it('stops reading once the reply is in, and reads on (nothing lost) once the node attaches', async () => {
    const reply = await sealResponse(PASSWORD, { errCode: 0, ip: 7 });
    const frames = 64;
    const payload = new Uint8Array(64 * 1024 - HEADER_SIZE);
    const dataFrame = encodeFrame(makeFrame(Cmd.DATA, 7, 80, 9, 1000, payload));
    const { a, b } = switcherEnd((b) => {
      b.send([reply]);
      for (let i = 0; i < frames; i++) b.send([dataFrame]);
    });
    const admitted = await admit(a, { password: PASSWORD, domain: 'flood', timeout: 10_000 });
    // Still with the switcher's end: not pulled into memory while the reply was opened.
    expect(b.bufferedAmount).toBe(frames * dataFrame.length);
    const node = new Node(admitted.transport, { domain: 'flood', ip: admitted.ip, heartbeatInterval: 0 });
    cleanups.push(() => node.destroy());
    // Frames for a stream the node does not have: dropped and counted, every one of them.
    await expect.poll(() => node.stats.dropped).toBe(frames);
    expect(b.bufferedAmount).toBe(0);
  });

  it('refuses a reply too short for an envelope as soon as its header says so', async () => {
    const reply = await sealResponse(PASSWORD, { errCode: 0, ip: 7 });
    const header = reply.slice(0, HEADER_SIZE);
    header[9] = 0;
    header[10] = 43; // one byte short of salt, nonce and tag
    const { a } = switcherEnd((b) => b.send([header])); // and no payload ever
    const err = await admit(a, { password: PASSWORD, domain: 'short', timeout: 5_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/43 bytes is too short/);
    expect(a.closed).toBe(true);
  });
});

describe('admit(): a connection closed before any reply', () => {
  it('says that the switcher may have refused without a reason, or gone away', async () => {
    const [a, b] = memoryPair();
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    // The switcher's side hangs up on the request: a Go switcher's wrong password, a flexmux
    // switcher's rate limit or shutdown, or one that crashed while the node reconnected.
    b.attach({ data: () => b.destroy(), drain: () => {}, close: () => {} });
    const err = await admit(a, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdmissionError);
    expect(err).toMatchObject({ errCode: 0, reason: 'closed' });
    // Before: '(rejected, reason unknown)', which sent operators of a switcher that had merely
    // restarted looking for a wrong password.
    expect((err as Error).message).toBe(
      'connection closed during admission, before any reply: refused without a reason (wrong password on a Go switcher; rate limit, overload or shutdown on flexmux: see its log) or the switcher went away; with a tcp:// URL, a TLS port: use tls:// there',
    );
  });

  /**
   * A connection whose far end hangs up on the request, and that explains a close as dialTcp's
   * does: a ProtocolError when `probe` (the port answers a TLS handshake) says so.
   */
  function hangingUp(probe: (ms: number) => Promise<boolean>): { t: MemoryTransport; asked: number[] } {
    const [a, b] = memoryPair();
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    b.attach({ data: () => b.destroy(), drain: () => {}, close: () => {} });
    const asked: number[] = [];
    a.explainClose = async (ms, closed) => {
      asked.push(ms);
      return (await probe(ms)) ? new ProtocolError('it speaks TLS', { cause: closed }) : null;
    };
    return { t: a, asked };
  }

  // Regression: a Go TLS switcher (Go's crypto/tls) hangs up on a request that is not TLS without
  // a word, exactly as a Go switcher refuses a wrong password: the failure could only list TLS
  // among four causes, and a session waited through it for ever. A transport that can ask the
  // port (dialTcp's) now does, and a TLS answer is said as such.
  it('fails with what the transport finds, a port that speaks TLS, instead of the bare close', async () => {
    const { t, asked } = hangingUp(() => Promise.resolve(true));
    const err = await admit(t, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toBe('it speaks TLS');
    expect((err as Error).cause).toMatchObject({ reason: 'closed' });
    // Within the admission's time, and never longer than 3 s.
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeLessThanOrEqual(3_000);
  });

  it('keeps the close when the port does not answer in TLS', async () => {
    const { t } = hangingUp(() => Promise.resolve(false));
    const err = await admit(t, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ errCode: 0, reason: 'closed' });
  });

  it('ends at the admission timeout whatever the probe does', async () => {
    const { t, asked } = hangingUp(() => new Promise<boolean>(() => {}));
    const err = await admit(t, { password: PASSWORD, domain: 'n', timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(asked[0]).toBeLessThanOrEqual(300);
  });
});

describe('admit(): an answer in HTTP', () => {
  it('says the address serves WebSocket or HTTP, not flex over TCP', async () => {
    const [a, b] = memoryPair();
    Object.assign(a, { foreignReply });
    cleanups.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    // What a switcher's ws:// port (a Node HTTP server) answers a tcp:// node's request with.
    b.attach({
      data: () => {
        b.send([new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')]);
        b.close();
      },
      drain: () => {},
      close: () => {},
    });
    const err = await admit(a, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    // Before: 'connection closed during admission', an admission refusal (exit 3) pointing at the
    // password, for a tcp:// URL given the WebSocket port.
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toBe(
      'the switcher answered in HTTP ("HTTP/1.1 400 Bad Request"): that port serves WebSocket or HTTP, not flex over TCP or TLS; use a ws:// URL, or wss:// where a tls:// URL reached it (path /flex/ws by default)',
    );
  });
});

describe('admit(): an answer in HTTP over TLS', () => {
  // Found by the transport leads hunt: a tls:// URL given a switcher's wss:// port was told to use
  // a ws:// URL, which that port hangs up on: the scheme it needs is wss://.
  it('names wss:// for a tls:// connection to a secure WebSocket port', async () => {
    const listener = await listenWs({ host: '127.0.0.1', port: 0, key, cert }, (t) => t.destroy());
    cleanups.push(() => listener.close());
    const t = await dialTls('127.0.0.1', listener.address.port, { ca: cert, timeout: 5_000 });
    const err = await admit(t, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain('wss:// where a tls:// URL reached it');
  });
});

describe('admit(): an answer in TLS', () => {
  /** A TLS alert record (fatal, unexpected_message), as OpenSSL answers bytes that are not TLS. */
  const ALERT = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a];

  // Found by a new-user walkthrough: a tcp:// URL given a switcher's TLS port failed with
  // "connection closed during admission ... wrong password ...", an AdmissionError that ready()
  // waits through, so it waited for ever. The alert is 7 bytes, less than a frame header.
  it.for([
    ['in one chunk', [ALERT]],
    ['a byte at a time', ALERT.map((b) => [b])],
    // OpenSSL's alert repeats the minor version it was sent, which a flex header may make anything.
    ['with the minor version 0x30', [[0x15, 0x03, 0x30, 0x00, 0x02, 0x02, 0x0a]]],
  ] as const)('says the port speaks TLS, for an alert %s followed by a close', async ([, chunks]) => {
    const { a } = switcherEnd((b) => {
      for (const c of chunks) b.send([new Uint8Array(c)]);
      b.close();
    });
    const err = await admit(a, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/^the switcher answered in TLS .*use a tls:\/\/ URL/);
    expect(a.closed).toBe(true);
  });

  it('leaves a transport without the check (a browser has no tcp:// or tls://) to the close', async () => {
    const { a } = switcherEnd((b) => {
      b.send([new Uint8Array(ALERT)]);
      b.close();
    });
    delete (a as { foreignReply?: unknown }).foreignReply;
    const err = await admit(a, { password: PASSWORD, domain: 'n', timeout: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ errCode: 0, reason: 'closed' });
  });

  it('takes a reply whose first bytes only look like TLS after the command byte', async () => {
    // The response's header bytes 1..8 are random: 0x15 0x03 there says nothing.
    const { a } = switcherEnd((b) => {
      void sealResponse(PASSWORD, { errCode: 0, ip: 7 }).then((r) => {
        const f = new Uint8Array(r);
        f[1] = 0x15;
        f[2] = 0x03;
        f[3] = 0x03;
        b.send([f]);
      });
    });
    const { ip } = await admit(a, { password: PASSWORD, domain: 'n', timeout: 5_000 });
    expect(ip).toBe(7);
  });
});
