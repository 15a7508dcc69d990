import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionError, ConfigError } from '../../../src/errors.js';
import { admit } from '../../../src/node/admit.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { sealResponse } from '../../../src/wire/admission/index.js';

const PASSWORD = 'admit-unit';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A switcher that answers any request with this response, sealed with the right password. */
function answering(init: { errCode: number; ip?: number }) {
  const [a, b] = memoryPair();
  cleanups.push(
    () => a.destroy(),
    () => b.destroy(),
  );
  let answered = false;
  b.attach({
    data: () => {
      if (answered) return;
      answered = true;
      void sealResponse(PASSWORD, init).then((frame) => b.send([frame]));
    },
    drain: () => {},
    close: () => {},
  });
  return a;
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
