import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdmin } from '../../src/admin/index.js';
import { eventually, parseMetrics, startTraffic, type Traffic } from './admin-fixture.js';
import { collectEvents, request } from './admin-http.js';

describe('admin event stream and departure counters', () => {
  let t: Traffic;
  let admin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, sampleInterval: 50, maxEventStreams: 1 });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('sends each join and departure once, frees the slot when the reader goes, and counts the departure', async () => {
    const framesBefore = parseMetrics((await request(admin.url, '/metrics')).text);
    let carolDone: Promise<void> = Promise.resolve();
    const events = await collectEvents(
      admin.url,
      '/api/v1/events',
      (ev) => ev.some((e) => e.event === 'clientLeft'),
      {
        onOpen: () => {
          const carol = t.session('carol', { reconnect: false });
          carolDone = carol
            .ready({ timeout: 5_000 })
            .then(() => expect(t.sw.kick('carol', 'test')).toBe(true))
            .then(() => new Promise<void>((r) => carol.once('close', () => r())));
        },
      },
    );
    await carolDone;
    const named = (name: string) => events.filter((e) => e.event === name).map((e) => e.data);
    expect(named('client')).toEqual([expect.objectContaining({ domain: 'carol' })]);
    expect(named('clientLeft')).toEqual([expect.objectContaining({ domain: 'carol', reason: 'kicked' })]);
    // The one stream allowed is free again once the reader is gone.
    const again = await eventually(() =>
      collectEvents(admin.url, '/api/v1/events', (ev) => ev.length > 0, { ms: 2_000 }),
    );
    expect(again[0].event).toBe('hello');
    const m = parseMetrics((await request(admin.url, '/metrics')).text);
    expect(m.get('flexmux_switcher_clients_left_total{reason="kicked"}')).toBe(1);
    for (const dir of ['in', 'out']) {
      const k = `flexmux_switcher_frames_total{direction="${dir}"}`;
      expect(m.get(k)).toBeGreaterThan(framesBefore.get(k) ?? 0);
    }
  });
});

describe('admin event streams and a rotated token', () => {
  let t: Traffic;
  let admin: AdminServer;

  beforeAll(async () => {
    t = await startTraffic();
    admin = await startAdmin({ switcher: t.sw, port: 0, sampleInterval: 50, token: 'token-one' });
  });

  afterAll(async () => {
    await admin?.close();
    await t?.close();
  });

  it('ends the streams opened with the old token when the token changes, and only then', async () => {
    let rotated = false;
    // collectEvents resolves when the stream ends, and rejects if it is still open after 10 s.
    const events = await collectEvents(
      admin.url,
      '/api/v1/events',
      (ev) => {
        // Setting the same token again (a reload that found the file unchanged) ended nothing:
        // samples go on arriving. Then a new token ends the stream.
        if (!rotated && ev.filter((e) => e.event === 'snapshot').length >= 2) {
          rotated = true;
          admin.setToken('token-two');
        }
        return false;
      },
      { token: 'token-one', onOpen: () => admin.setToken('token-one') },
    );
    expect(rotated).toBe(true);
    expect(events[0].event).toBe('hello');
    await expect(
      collectEvents(admin.url, '/api/v1/events', () => true, { token: 'token-one', ms: 2_000 }),
    ).rejects.toThrow(/401/);
    const again = await collectEvents(admin.url, '/api/v1/events', (ev) => ev.length > 0, {
      token: 'token-two',
      ms: 2_000,
    });
    expect(again[0].event).toBe('hello');
  });
});
