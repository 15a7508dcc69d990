import { connect } from 'node:net';
import perfHooks from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAdmin } from '../../src/admin/index.js';
import { SwitcherPanel } from '../../src/admin/switcher-panel.js';
import { ConfigError } from '../../src/errors.js';
import { Switcher } from '../../src/switcher/index.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { parseMetrics } from './admin-fixture.js';
import { collectEvents, request } from './admin-http.js';

describe('startAdmin', () => {
  let sw: Switcher;

  beforeAll(() => {
    sw = new Switcher({ password: 'x' });
  });

  afterAll(async () => {
    await sw.close();
  });

  it('refuses a reachable address without a token, before opening anything', async () => {
    await expect(startAdmin({ switcher: sw, host: '0.0.0.0', port: 0 })).rejects.toThrow(ConfigError);
    await expect(startAdmin({ switcher: sw, host: '0.0.0.0', port: 0 })).rejects.toThrow(/set a token/);
  });

  it('starts only with a token that a bearer header can carry, and that token then works', async () => {
    // A passphrase, or a token file with a stray space: HTTP trims a header's ends and the bearer
    // syntax stops at white space, so such a token can never match. It must fail at start, not
    // with a 401 on every request.
    for (const token of ['two words', 'trailing ', ' leading', 'tab\there']) {
      const admin = await startAdmin({ switcher: sw, port: 0, token }).catch((err: Error) => err);
      if (admin instanceof Error) {
        expect(admin, JSON.stringify(token)).toBeInstanceOf(ConfigError);
        expect(admin.message).toMatch(/token/);
        continue;
      }
      try {
        const r = await request(admin.url, '/api/v1/info', { token });
        expect(r.status, `started with ${JSON.stringify(token)}, which then gets`).toBe(200);
      } finally {
        await admin.close();
      }
    }
  });

  it('starts only with an ASCII token, which curl and Prometheus send as UTF-8 and which then works', async () => {
    for (const token of ['pässwörd', 'токен']) {
      const admin = await startAdmin({ switcher: sw, port: 0, token }).catch((err: Error) => err);
      if (admin instanceof Error) {
        expect(admin, token).toBeInstanceOf(ConfigError);
        expect(admin.message).toMatch(/token/);
        continue;
      }
      try {
        // Raw bytes, as curl and Go's net/http write a header: the token's UTF-8.
        const head = await new Promise<string>((resolve, reject) => {
          const socket = connect(admin.port, '127.0.0.1', () => {
            socket.write(
              Buffer.concat([
                Buffer.from('GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n'),
                Buffer.from(`Authorization: Bearer ${token}\r\n\r\n`, 'utf8'),
              ]),
            );
          });
          let text = '';
          socket.on('data', (c: Buffer) => {
            text += c.toString('latin1');
          });
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
        });
        expect(head.split('\r\n')[0], `started with ${token}, which then gets`).toBe('HTTP/1.1 200 OK');
      } finally {
        await admin.close();
      }
    }
  });

  it('rejects with the listen error when the port is taken', async () => {
    const first = await startAdmin({ switcher: sw, port: 0 });
    try {
      await expect(startAdmin({ switcher: sw, port: first.port })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      await first.close();
    }
  });

  it('without a token, refuses requests whose Host is not a loopback name (DNS rebinding)', async () => {
    const admin = await startAdmin({ switcher: sw, port: 0 });
    try {
      const evil = await request(admin.url, '/api/v1/info', {
        headers: { host: `evil.example:${admin.port}` },
      });
      expect(evil.status).toBe(403);
      expect((evil.json as { error: { code: string } }).error.code).toBe('forbidden');
      const ok = await request(admin.url, '/api/v1/info', { headers: { host: `localhost:${admin.port}` } });
      expect(ok.status).toBe(200);
    } finally {
      await admin.close();
    }
  });

  // With a token the API was safe, but a page that rebound its name to 127.0.0.1 read everything
  // public from a port nobody else could reach, and could guess tokens from the operator's browser.
  it('with a token on loopback, refuses a foreign Host too, logged; allowedHosts lets a name in', async () => {
    const log = captureLogger();
    const admin = await startAdmin({ switcher: sw, port: 0, token: 'tok-1', logger: log });
    const named = await startAdmin({ switcher: sw, port: 0, allowedHosts: ['admin.example'] });
    try {
      const evil = { host: `evil.example:${admin.port}` };
      for (const path of ['/healthz', '/', '/api/v1/openapi.json', '/api/v1/info']) {
        const r = await request(admin.url, path, { headers: evil, token: 'tok-1' });
        expect([path, r.status]).toEqual([path, 403]);
      }
      expect(log.find('admin request refused: its Host is not a name of this server')).toHaveLength(1);
      const local = { host: `localhost:${admin.port}` };
      expect((await request(admin.url, '/api/v1/info', { headers: local, token: 'tok-1' })).status).toBe(200);
      // A token-less server behind a proxy that passes its own Host on.
      const proxied = { host: 'admin.example:443' };
      expect((await request(named.url, '/api/v1/info', { headers: proxied })).status).toBe(200);
      expect((await request(named.url, '/api/v1/info', { headers: evil })).status).toBe(403);
    } finally {
      await admin.close();
      await named.close();
    }
  });

  it('answers HEAD on the event stream at once, and leaves the stream slot free', async () => {
    // HEAD is documented to work wherever GET does. On /api/v1/events it opened a stream whose
    // headers Node never sent (a HEAD response has no body to flush them): the client waited
    // for good and the stream held one of the maxEventStreams slots as long as it stayed.
    const admin = await startAdmin({ switcher: sw, port: 0, maxEventStreams: 1 });
    try {
      const head = await request(admin.url, '/api/v1/events', { method: 'HEAD', timeout: 3_000 });
      expect(head.status).toBe(200);
      expect(head.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(head.text).toBe('');
      const events = await collectEvents(admin.url, '/api/v1/events', (e) => e.length >= 1);
      expect(events[0].event).toBe('hello');
    } finally {
      await admin.close();
    }
  });

  it('builds the hello message only for a stream that opens, not for HEAD or a 503', async () => {
    // hello carries the whole history and a snapshot: it was built for every request, also for
    // a HEAD and for a stream refused as one too many, and then thrown away.
    const hello = vi.spyOn(SwitcherPanel.prototype, 'hello');
    const admin = await startAdmin({ switcher: sw, port: 0, maxEventStreams: 1, sampleInterval: 50 });
    try {
      expect((await request(admin.url, '/api/v1/events', { method: 'HEAD' })).status).toBe(200);
      expect(hello).not.toHaveBeenCalled();
      let refused: number | undefined;
      const events = await collectEvents(admin.url, '/api/v1/events', () => refused !== undefined, {
        onOpen: () => {
          void request(admin.url, '/api/v1/events').then((r) => {
            refused = r.status;
          });
        },
      });
      expect(events[0].event).toBe('hello');
      expect(refused).toBe(503);
      expect(hello).toHaveBeenCalledTimes(1);
    } finally {
      hello.mockRestore();
      await admin.close();
    }
  });

  it('adds Node.js process metrics on request', async () => {
    const admin = await startAdmin({ switcher: sw, port: 0, processMetrics: true });
    try {
      const m = parseMetrics((await request(admin.url, '/metrics')).text);
      expect(m.has('process_cpu_user_seconds_total')).toBe(true);
      expect(m.get('flexmux_switcher_clients')).toBe(0);
    } finally {
      await admin.close();
    }
  });

  it("starts the process metrics' monitors once per process, not once per server", async () => {
    // prom-client's process metrics start an event-loop delay monitor (a timer every 10 ms) and a
    // GC observer that nothing stops: each server started with processMetrics, closed or not,
    // left one of each running for the life of the process.
    const monitors = vi.spyOn(perfHooks, 'monitorEventLoopDelay');
    try {
      for (let i = 0; i < 3; i++) {
        const admin = await startAdmin({ switcher: sw, port: 0, processMetrics: true });
        try {
          const m = parseMetrics((await request(admin.url, '/metrics')).text);
          expect(m.has('process_cpu_user_seconds_total')).toBe(true);
          expect(m.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
        } finally {
          await admin.close();
        }
      }
      // None if an earlier test of this process started them already.
      expect(monitors.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      monitors.mockRestore();
    }
  });

  it('leaves no handles behind after close', async () => {
    // expect.poll runs on a timer of its own, so timers are counted apart, outside any poll.
    const kinds = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const handles = () => kinds().filter((r) => r !== 'Timeout').length;
    const timers = () => kinds().filter((r) => r === 'Timeout').length;
    const closing = () => kinds().filter((r) => r === 'CloseReq').length;
    const admin0 = await startAdmin({ switcher: sw, port: 0 });
    await admin0.close();
    // A closed server's handle can still be in libuv's close queue; count once it is gone.
    await expect.poll(closing, { timeout: 5_000 }).toBe(0);
    const handlesBefore = handles();
    const timersBefore = timers();
    for (let i = 0; i < 20; i++) {
      const admin = await startAdmin({ switcher: sw, port: 0, sampleInterval: 10 });
      await request(admin.url, '/metrics');
      await admin.close();
    }
    // The last client socket may still be closing when its response has ended: wait for it,
    // but a leaked server or socket keeps the count up and fails here.
    await expect.poll(handles, { timeout: 5_000 }).toBeLessThanOrEqual(handlesBefore);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    expect(sw.listenerCount('refused')).toBe(0);
    expect(sw.listenerCount('clientLeft')).toBe(0);
  });
});
