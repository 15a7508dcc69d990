import { afterEach, describe, expect, it } from 'vitest';
import { type RefusalInfo, Switcher } from '../../../src/switcher/switcher.js';
import { captureLogger } from '../../helpers/faulty-log.js';
import { connectRaw, PASSWORD } from './helpers.js';

/**
 * A connection turned away at the door (overloaded, rate-limited) is refused inside handle(),
 * which a listener calls from its connection handler. A logger that throws on the refusal's line
 * (pino to a closed pipe) threw out of handle() there: an uncaught exception that ends the
 * process, at the first connection a flood brings, and that connection was never closed.
 */

const switchers: Switcher[] = [];
afterEach(async () => {
  await Promise.all(switchers.splice(0).map((s) => s.close({ timeout: 500 })));
});

describe('a logger that throws on a refusal at the door', () => {
  it('does not throw out of handle(), and the connection is closed', async () => {
    const log = captureLogger();
    const warn = (): void => {
      throw new Error('write EPIPE');
    };
    const sw = new Switcher({ password: PASSWORD, logger: { ...log, warn }, maxPendingAdmissions: 1 });
    switchers.push(sw);
    const refused: RefusalInfo[] = [];
    sw.on('refused', (r) => refused.push(r));
    const pending = connectRaw(sw);
    let away: ReturnType<typeof connectRaw> | undefined;
    expect(() => {
      away = connectRaw(sw);
    }).not.toThrow();
    await away?.closed;
    expect(refused.map((r) => r.reason)).toEqual(['overloaded']);
    pending.t.destroy();
    await pending.closed;
  });
});
