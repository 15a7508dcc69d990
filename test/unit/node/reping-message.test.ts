import { describe, expect, it } from 'vitest';
import { PingError, TimeoutError } from '../../../src/errors.js';
import { untilTarget } from '../../../src/node/redial.js';
import { silentLogger } from '../../../src/util/logger.js';

/**
 * What a ping with waitForTarget that runs out says: its target once, at the start, then the last
 * answer's text and the last ping's own failure past the name (a reader such as `flexmux ping`
 * prints it after a name of its own, and needs no rewriting of it).
 */
describe('a ping waiting for its target that runs out', () => {
  it('names its target once, also in what the last ping failed with', async () => {
    let attempts = 0;
    const pinged = untilTarget(
      // A whole minute: the ping fails by itself after the first pause (100 ms), and a deadline
      // close behind that pause ran out first on a loaded machine, with no second ping to name.
      { what: 'ping', target: 'alice', timeout: 60_000, logger: silentLogger },
      async () => {
        attempts++;
        if (attempts === 1) throw new PingError('domain not found', { target: 'alice' });
        // The node came, and did not answer in time.
        throw new TimeoutError('ping alice timed out after 50 ms');
      },
    );
    const err = (await pinged.catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TimeoutError);
    // Before: `...; last answer: ping alice failed: domain not found; then ping alice timed out
    // after 50 ms`, the name said three times.
    expect(err.message).toBe(
      'ping alice timed out after 60000 ms waiting for its target; last answer: domain not found; then timed out after 50 ms',
    );
    expect(err.cause).toBeInstanceOf(PingError);
    expect(attempts).toBe(2);
  });
});
