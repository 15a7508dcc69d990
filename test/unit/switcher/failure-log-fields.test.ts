import { afterEach, describe, expect, it } from 'vitest';
import type { Switcher as SwitcherType } from '../../../src/switcher/switcher.js';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { admitRaw, connectRaw, join, PASSWORD } from './helpers.js';

/**
 * The switcher's lines for a failure inside it ('admission failed inside the switcher',
 * 'routing failed; dropping the client', and the 'client left' that follows) give the error the
 * fields every other failure line gives it (util/cause.ts errorFields): `err`, `code` and
 * `cause`. They gave the message alone, so an operator alerting on `code` or `cause` missed them.
 * The two lines of a bug of ours give its `stack` too, as the node's does: without it nothing
 * said where the bug was.
 */

const switchers: SwitcherType[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

/** An error with a code of its own and the runtime's under it. */
function internalError(): Error {
  const system = Object.assign(new Error('disk on fire'), { code: 'EIO' });
  return Object.assign(new Error('bookkeeping failed', { cause: system }), { code: 'ERR_BOOKKEEPING' });
}

function make() {
  const log = captureLogger();
  const sw = new Switcher({ password: PASSWORD, logger: log });
  switchers.push(sw);
  sw.on('error', () => {});
  // The parts that fail below are private: reached the way a test double is.
  const inner = sw as unknown as {
    registry: { claim: (domain: string) => Promise<unknown> };
    router: { route: (...args: unknown[]) => void };
  };
  return { sw, log, inner };
}

describe('a failure inside the switcher is logged with err, code and cause', () => {
  it('in an admission', async () => {
    const { sw, log, inner } = make();
    const failed = new Promise<Error>((resolve) => sw.once('error', resolve));
    inner.registry.claim = () => Promise.reject(internalError());
    const raw = connectRaw(sw);
    // The admission is dropped without a reply: the wait for one fails as the connection ends.
    await expect(admitRaw(raw, 'alice')).rejects.toThrow('connection ended');
    await failed;
    await raw.closed;
    expect(log.find('admission failed inside the switcher')).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ err: 'bookkeeping failed', code: 'ERR_BOOKKEEPING', cause: 'EIO' }),
      }),
    ]);
    // And where the bug is: the message alone does not say.
    expect(log.find('admission failed inside the switcher')[0]?.fields.stack).toContain(
      'Error: bookkeeping failed',
    );
  });

  it('in routing, and the client left line that follows', async () => {
    const { sw, log, inner } = make();
    const alice = await join(sw, 'alice');
    const failed = new Promise<Error>((resolve) => sw.once('error', resolve));
    inner.router.route = () => {
      throw internalError();
    };
    // Any frame goes through the router; the ping of the switcher is the simplest.
    void alice.barrier().catch(() => {});
    await failed;
    await alice.closed;
    await expect.poll(() => log.find('client left', { domain: 'alice' }).length).toBe(1);
    const fields = { err: 'bookkeeping failed', code: 'ERR_BOOKKEEPING', cause: 'EIO' };
    expect(log.find('routing failed; dropping the client')[0]).toMatchObject({ level: 'error', fields });
    expect(log.find('routing failed; dropping the client')[0]?.fields.stack).toContain(
      'Error: bookkeeping failed',
    );
    expect(log.find('client left', { domain: 'alice' })[0]).toMatchObject({
      level: 'warn',
      fields: { reason: 'error', ...fields },
    });
  });
});
