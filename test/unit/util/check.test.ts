import { describe, expect, it } from 'vitest';
import { startAdmin } from '../../../src/admin/index.js';
import { ConfigError, Node, Switcher } from '../../../src/index.js';
import { memoryPair } from '../../../src/transport/memory.js';
import { checkBool, checkDelay, checkInt } from '../../../src/util/check.js';

// A JavaScript program passes numbers from process.env or a config file as strings. The message
// said "port must be an integer in 0..65535, got 7090": the value looked right, and nothing said
// it was a string.
describe('ConfigError messages about a value of the wrong type', () => {
  it('quote a string and say that it is one', () => {
    expect(() => checkInt('option window', '65536', 1, 10)).toThrow(
      'option window must be an integer in 1..10, got "65536" (a string)',
    );
    expect(() => checkDelay('option timeout', '100')).toThrow('got "100" (a string)');
    expect(() => checkBool('option earlyData', 'true')).toThrow('got "true" (a string)');
    // Numbers and the rest read as before.
    expect(() => checkInt('option window', 0, 1, 10)).toThrow('got 0');
    expect(() => checkInt('option window', undefined, 1, 10)).toThrow('got undefined');
  });

  it('do so for node, switcher and admin options', async () => {
    const [x] = memoryPair();
    expect(() => new Node(x, { window: '4096' as unknown as number })).toThrow(/got "4096" \(a string\)/);
    expect(() => new Switcher({ password: 'p', maxClients: '10' as unknown as number })).toThrow(
      /got "10" \(a string\)/,
    );
    const switcher = new Switcher({ password: 'p' });
    const err = await startAdmin({ switcher, port: '7090' as unknown as number }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/got "7090" \(a string\)/);
    await switcher.close();
  });
});
