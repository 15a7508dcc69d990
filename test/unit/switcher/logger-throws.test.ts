import { afterEach, describe, expect, it } from 'vitest';
import { Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { join, PASSWORD } from './helpers.js';

/**
 * The switcher's lines outside a client's frames: a takeover's eviction, and close(). A logger
 * that throws there (pino to a closed pipe, EPIPE) failed the newcomer's admission as a bug of
 * ours, and made close() throw with the shutdown never begun.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 }).catch(() => {})));
});

function make(levels: ('info' | 'warn')[], livenessTimeout = 3_000) {
  const log = captureLogger();
  const logger = { ...log };
  for (const level of levels) {
    logger[level] = () => {
      throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    };
  }
  const sw = new Switcher({ password: PASSWORD, logger, livenessTimeout });
  switchers.push(sw);
  const errors: Error[] = [];
  sw.on('error', (e) => errors.push(e));
  const left: string[] = [];
  sw.on('clientLeft', (c, reason) => left.push(`${c.domain}:${reason}`));
  return { sw, errors, left };
}

describe("a logger that throws on the switcher's own lines", () => {
  it('a silent holder is evicted and the newcomer admitted, with no fault of ours', async () => {
    const { sw, errors, left } = make(['warn'], 50);
    const holder = await join(sw, 'alice');
    const newcomer = await join(sw, 'alice');
    await holder.closed;
    expect(left).toEqual(['alice:evicted']);
    expect(sw.client('alice')?.ip).toBe(newcomer.ip);
    expect(errors).toEqual([]);
  });

  it('close() closes the switcher and its clients', async () => {
    const { sw, left } = make(['info', 'warn']);
    const alice = await join(sw, 'alice');
    const closed = new Promise<void>((resolve) => sw.once('close', () => resolve()));
    await sw.close({ timeout: 1_000 });
    await closed;
    await alice.closed;
    expect(sw.state).toBe('closed');
    expect(left).toEqual(['alice:shutdown']);
  });
});
