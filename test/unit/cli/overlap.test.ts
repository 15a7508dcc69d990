import { describe, expect, it } from 'vitest';
import { listenersOverlap } from '../../../src/cli/overlap.js';

/** What Node's listen does with two servers on one port (checked on Linux, dual-stack `::`). */
describe('listenersOverlap', () => {
  const on = (a: string, b: string, port = 7000) =>
    listenersOverlap({ host: a, port: 7000 }, { host: b, port });

  it.for([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    ['0.0.0.0', '::ffff:127.0.0.1'],
    ['::', '127.0.0.1'],
    ['::', '0.0.0.0'],
    ['::', '::1'],
    ['::', 'example.com'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['localhost', '127.0.0.1'],
    ['localhost', '::1'],
    ['LOCALHOST', 'localhost'],
    ['example.com', 'EXAMPLE.com'],
    // The absolute form of a name: it resolves to the same address.
    ['localhost.', '127.0.0.1'],
    ['localhost.', '::1'],
    ['example.com.', 'example.com'],
  ] as const)('%s and %s take the same port', ([a, b]) => {
    expect(on(a, b)).toBe(true);
    expect(on(b, a)).toBe(true);
  });

  it.for([
    ['127.0.0.1', '127.0.0.2'],
    ['127.0.0.1', '::1'],
    ['0.0.0.0', '::1'],
    ['localhost', '127.0.0.2'],
    // Where a name resolves shows only at start: no DNS here.
    ['example.com', '0.0.0.0'],
    ['example.com', 'example.org'],
  ] as const)('%s and %s do not', ([a, b]) => {
    expect(on(a, b)).toBe(false);
    expect(on(b, a)).toBe(false);
  });

  it('never on two ports', () => {
    expect(on('::', '::', 7001)).toBe(false);
  });
});
