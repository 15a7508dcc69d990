import { afterEach, describe, expect, it } from 'vitest';
import type { InspectableNode } from '../../../src/admin/config.js';
import { startAdmin } from '../../../src/admin/index.js';
import { RttProbe } from '../../../src/admin/node-rtt.js';
import { PingError } from '../../../src/errors.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { request } from '../../integration/admin-http.js';

/**
 * The admin server's failure lines give the error the fields every failure line gives it
 * (util/cause.ts errorFields): `err` (the message), `code` and `cause`. They gave `String(err)`
 * ("PingError: ..."), or the message alone, so `code` and `cause` were missing.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An error with a code of its own and the runtime's under it. */
function failure(): Error {
  const system = Object.assign(new Error('disk on fire'), { code: 'EIO' });
  return Object.assign(new Error('bookkeeping failed', { cause: system }), { code: 'ERR_BOOKKEEPING' });
}

/** Enough of a node for the RTT probe, whose ping and stream list fail as the test says. */
function failingNode(o: { ping?: () => Promise<number>; streamList?: () => never[] }): InspectableNode {
  return {
    closed: false,
    domain: 'me',
    options: { pingTimeout: 1_000 },
    streamList: o.streamList ?? (() => []),
    ping: o.ping ?? (() => Promise.resolve(1)),
  } as unknown as InspectableNode;
}

describe('admin failure lines give err, code and cause', () => {
  it('admin RTT ping failed', async () => {
    const log = captureLogger();
    const pinged = new PingError('switcher is busy', { target: 'the switcher' });
    const node = failingNode({ ping: () => Promise.reject(pinged) });
    const probe = new RttProbe(() => node, 60_000, 4, log);
    cleanups.push(() => probe.stop());
    probe.start();
    await expect.poll(() => log.find('admin RTT ping failed').length).toBe(1);
    expect(log.find('admin RTT ping failed')[0]?.fields).toMatchObject({
      domain: '',
      err: pinged.message,
      code: 'FLEX_ERR_PING_FAILED',
    });
  });

  it('admin RTT round failed', async () => {
    const log = captureLogger();
    const node = failingNode({
      streamList: () => {
        throw failure();
      },
    });
    const probe = new RttProbe(() => node, 60_000, 4, log);
    cleanups.push(() => probe.stop());
    probe.start();
    await expect.poll(() => log.find('admin RTT round failed').length).toBe(1);
    expect(log.find('admin RTT round failed')[0]?.fields).toMatchObject({
      err: 'bookkeeping failed',
      code: 'ERR_BOOKKEEPING',
      cause: 'EIO',
    });
  });

  it('admin handler failed', async () => {
    const sw = new Switcher({ password: 'admin-fields' });
    cleanups.push(() => sw.close({ timeout: 300 }));
    const log = captureLogger();
    // No sample during the test: only the request below reads the failing stats().
    const admin = await startAdmin({ switcher: sw, port: 0, logger: log, sampleInterval: 3_600_000 });
    cleanups.push(() => admin.close());
    sw.stats = () => {
      throw failure();
    };
    const reply = await request(admin.url, '/api/v1/info');
    expect(reply.status).toBe(500);
    expect(log.find('admin handler failed')).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({
          path: '/api/v1/info',
          err: 'bookkeeping failed',
          code: 'ERR_BOOKKEEPING',
          cause: 'EIO',
        }),
      }),
    ]);
  });
});
