import { afterEach, describe, expect, it } from 'vitest';
import type { SwitcherOptions } from '../../../src/switcher/config.js';
import { type RefusalInfo, Switcher } from '../../../src/switcher/switcher.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { PASSWORD } from './helpers.js';

/**
 * An HTTP request on the switcher's byte-stream door (its tcp:// and tls:// ports): a WebSocket
 * client given the tcp:// port, curl, a browser. Found by a new-user walkthrough: the request line
 * read as a frame header announcing a payload of 0x5450 bytes ("TP") that never came, so the
 * connection was held until the admission timeout, without an answer, and a ws:// node retried
 * for ever. Now it is answered with a 400 that names the port, at once.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function make(o: Partial<SwitcherOptions> = {}): { sw: Switcher; refusals: RefusalInfo[]; lines: Logged[] } {
  const lines: Logged[] = [];
  const at =
    (level: string) =>
    (fields: object, msg?: string): void => {
      lines.push({ level, msg: msg ?? '', fields: fields as Record<string, unknown> });
    };
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const sw = new Switcher({ password: PASSWORD, logger, ...o });
  switchers.push(sw);
  const refusals: RefusalInfo[] = [];
  sw.on('refused', (r) => refusals.push(r));
  return { sw, refusals, lines };
}

let hosts = 0;

/** Sends `chunks` on a new connection from `remote`; resolves with all the switcher sent once it closed. */
function exchange(
  sw: Switcher,
  chunks: (string | Uint8Array)[],
  remote = `10.1.0.${++hosts}:5000`,
): Promise<string> {
  const [a, b] = memoryPair({ remoteAddresses: ['switcher:7000', remote] });
  const got: Uint8Array[] = [];
  const closed = new Promise<string>((resolve) => {
    a.attach({
      data: (c) => {
        got.push(c);
      },
      drain: () => {},
      close: () => resolve(Buffer.concat(got).toString('latin1')),
    });
  });
  sw.handle(b);
  for (const c of chunks) a.send([typeof c === 'string' ? new TextEncoder().encode(c) : c]);
  return closed;
}

const UPGRADE =
  'GET /flex/ws HTTP/1.1\r\nHost: 127.0.0.1:7000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

describe('an HTTP request on the byte-stream door', () => {
  it('is answered with a 400 that names the port to use, and closed, before the admission timeout', async () => {
    const { sw, refusals, lines } = make({ admissionTimeout: 60_000 });
    const answer = await exchange(sw, [UPGRADE]);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('Connection: close');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body ?? '')}`);
    expect(body).toMatch(/flex TCP port, not HTTP or WebSocket: connect to it with a tcp:\/\/ URL/);
    expect(body).toContain("the switcher's ws:// or wss:// URL");
    expect(refusals).toEqual([
      {
        remoteAddress: expect.stringMatching(/^10\.1\.0\.\d+:5000$/),
        reason: 'http',
        errCode: 0,
        message: 'an HTTP request (GET) on a flex TCP port: a WebSocket or HTTP client given the wrong port',
      },
    ]);
    await expect.poll(() => sw.stats().pendingAdmissions).toBe(0);
    expect(sw.stats().refused).toBe(1);
    // Logged, but as the client's mistake (info), not as a warning a scanner could flood.
    const logged = lines.filter((l) => l.fields.reason === 'http');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'info', msg: 'admission refused' });
  });

  it('is told from the first bytes however they are cut, whatever the method', async () => {
    const { sw, refusals } = make({ admissionTimeout: 60_000 });
    const bytewise = [...'POST /x HTTP/1.1\r\n\r\n'];
    expect(await exchange(sw, bytewise)).toMatch(/^HTTP\/1\.1 400 /);
    for (const m of ['HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']) {
      expect(await exchange(sw, [m, ` / HTTP/1.1\r\n\r\n`])).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(refusals.map((r) => r.reason)).toEqual(Array(8).fill('http'));
  });

  it('is not charged to the host: a misconfigured client does not get its neighbours rate-limited', async () => {
    const { sw, refusals } = make({ admissionTimeout: 60_000, failedAdmissionBurst: 1 });
    for (let i = 0; i < 4; i++)
      expect(await exchange(sw, [UPGRADE], '10.2.0.1:5000')).toMatch(/^HTTP\/1\.1 400 /);
    expect(refusals.map((r) => r.reason)).toEqual(Array(4).fill('http'));
  });

  it('logs a run of them as its first and then summary lines, at info (a scanner sends many)', async () => {
    let clockMs = 0;
    const { sw, refusals, lines } = make({ admissionTimeout: 60_000, monotonicClock: () => clockMs });
    for (let i = 0; i < 5; i++) await exchange(sw, [UPGRADE], `10.3.0.${i}:5000`);
    expect(refusals).toHaveLength(5);
    const httpLines = (): Logged[] =>
      lines.filter((l) => l.fields.reason === 'http' || l.msg === 'admissions refused: HTTP requests');
    expect(httpLines().map((l) => [l.level, l.msg])).toEqual([['info', 'admission refused']]);
    expect(httpLines()[0]?.fields).toMatchObject({ remote: '10.3.0.0:5000', more: expect.any(String) });
    // A second without one: the next connection says what the run counted, with its last host.
    clockMs = 1_500;
    await exchange(sw, [UPGRADE], '10.3.0.9:5000');
    expect(httpLines().map((l) => [l.level, l.msg])).toEqual([
      ['info', 'admission refused'],
      ['info', 'admissions refused: HTTP requests'],
      ['info', 'admission refused'],
    ]);
    expect(httpLines()[1]?.fields).toMatchObject({
      refused: 4,
      total: 5,
      over: true,
      remote: '10.3.0.4:5000',
    });
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('is told from the HTTP/2 preface of a client with prior knowledge (gRPC, curl)', async () => {
    const { sw, refusals } = make({ admissionTimeout: 60_000, failedAdmissionBurst: 1 });
    for (let i = 0; i < 2; i++) {
      expect(await exchange(sw, ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], '10.5.0.1:5000')).toMatch(
        /^HTTP\/1\.1 400 /,
      );
    }
    expect(refusals.map((r) => [r.reason, r.message.slice(0, 24)])).toEqual(
      Array(2).fill(['http', 'an HTTP request (PRI) on']),
    );
  });

  it('leaves bytes that only start like a method to the frame reader (a flex frame starts 0x00)', async () => {
    const { sw, refusals } = make({ admissionTimeout: 50 });
    // No space after the method, or a lower-case one: not a request line, and as before, a
    // header whose payload never comes.
    expect(await exchange(sw, ['GETX / HTTP/1.1\r\n'])).toBe('');
    expect(await exchange(sw, ['get / HTTP/1.1\r\n'])).toBe('');
    expect(refusals.map((r) => r.reason)).toEqual(['timeout', 'timeout']);
  });

  it('is no concern of a WebSocket connection, whose messages are frames', async () => {
    const { sw, refusals } = make({ admissionTimeout: 60_000 });
    const [a, b] = memoryPair({ framing: 'message' });
    const closed = new Promise<void>((resolve) =>
      a.attach({ data: () => {}, drain: () => {}, close: () => resolve() }),
    );
    sw.handle(b);
    a.send([new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')]);
    await closed;
    expect(refusals.map((r) => r.reason)).not.toContain('http');
  });
});

/**
 * A TLS client on the byte-stream door: a tls:// or wss:// URL given the tcp:// port. Its
 * ClientHello read as a frame header announcing 771 bytes (its client_version, 0x0303) where
 * Node's sends 369 in all, so both ends waited for the other until the admission timeout, which
 * charged the host and logged a bare `timeout`. Now it is closed at once, as `tls`.
 */
describe('a TLS handshake on the byte-stream door', () => {
  // The start of the ClientHello Node sends: a handshake record of TLS 1.0 framing, 364 bytes.
  const HELLO = Uint8Array.from([
    0x16, 0x03, 0x01, 0x01, 0x6c, 0x01, 0x00, 0x01, 0x68, 0x03, 0x03, 0x5a, 0xa5,
  ]);

  it('is closed at once, with nothing sent back, however its first bytes are cut', async () => {
    const { sw, refusals } = make({ admissionTimeout: 60_000 });
    expect(await exchange(sw, [HELLO])).toBe('');
    expect(
      await exchange(
        sw,
        [...HELLO].map((b) => Uint8Array.of(b)),
      ),
    ).toBe('');
    // TLS 1.3 and 1.2 clients alike (the record version is 3.1 or 3.3).
    expect(await exchange(sw, [Uint8Array.of(0x16, 0x03, 0x03, 0x00, 0x40, 0x01)])).toBe('');
    expect(refusals).toEqual(
      Array(3).fill({
        remoteAddress: expect.any(String),
        reason: 'tls',
        errCode: 0,
        message: 'a TLS handshake on a plain flex TCP port: a tls:// or wss:// client given the tcp:// port',
      }),
    );
  });

  it('is not charged to the host, and logged at info as a run', async () => {
    let clockMs = 0;
    const { sw, refusals, lines } = make({
      admissionTimeout: 60_000,
      failedAdmissionBurst: 1,
      monotonicClock: () => clockMs,
    });
    for (let i = 0; i < 4; i++) await exchange(sw, [HELLO], '10.4.0.1:5000');
    expect(refusals.map((r) => r.reason)).toEqual(Array(4).fill('tls'));
    clockMs = 1_500;
    await exchange(sw, [HELLO], '10.4.0.1:5000');
    const tlsLines = lines.filter((l) => l.fields.reason === 'tls' || l.msg.includes('TLS'));
    expect(tlsLines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'admission refused'],
      ['info', 'admissions refused: TLS handshakes'],
      ['info', 'admission refused'],
    ]);
    expect(tlsLines[1]?.fields).toMatchObject({ refused: 3, total: 4 });
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('leaves a first byte of 0x16 without a TLS version after it to the frame reader', async () => {
    const { sw, refusals } = make({ admissionTimeout: 50 });
    expect(await exchange(sw, [Uint8Array.of(0x16, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 9)])).toBe('');
    expect(refusals.map((r) => r.reason)).toEqual(['timeout']);
  });
});
