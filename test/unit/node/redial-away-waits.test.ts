import { describe, expect, it } from 'vitest';
import { DialRefusedError, DialTimeoutError } from '../../../src/errors.js';
import { untilTarget } from '../../../src/node/redial.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * untilTarget's `awayWaits`: whether a target away may be waited for is asked at each refusal
 * (`flexmux node --forward` waits only for a while after an admission, a window that may close
 * while a dial waits).
 */

const away = (): DialRefusedError => new DialRefusedError('resolve domain failed', { target: 'bob:22' });

describe('untilTarget awayWaits', () => {
  it('gives up with the refusal itself once awayWaits says no, asking at each refusal', async () => {
    let attempts = 0;
    const answers = [true, false];
    const asked: boolean[] = [];
    const dialled = untilTarget(
      {
        what: 'dial',
        target: 'bob:22',
        timeout: 10_000,
        logger: silentLogger,
        awayWaits: () => {
          const a = answers[asked.length] ?? false;
          asked.push(a);
          return a;
        },
      },
      async () => {
        attempts++;
        throw away();
      },
    );
    const err = await dialled.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialRefusedError);
    expect(err).not.toBeInstanceOf(DialTimeoutError);
    expect(attempts).toBe(2);
    expect(asked).toEqual([true, false]);
  });

  it('waits for a target away without awayWaits, as a session or node does', async () => {
    let attempts = 0;
    const stream = await untilTarget(
      { what: 'dial', target: 'bob:22', timeout: 10_000, logger: silentLogger },
      async () => {
        if (++attempts < 2) throw away();
        return 'stream';
      },
    );
    expect(stream).toBe('stream');
    expect(attempts).toBe(2);
  });
});
