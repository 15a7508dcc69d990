import { describe, expect, expectTypeOf, it } from 'vitest';
import { Listener, listenTcp, serveTcp, type TransportListener } from '../../src/index.js';

describe('the package root names both listener types', () => {
  it('TransportListener is what serveTcp and listenTcp resolve to; Listener is the node class', () => {
    expectTypeOf(serveTcp).returns.resolves.toEqualTypeOf<TransportListener>();
    expectTypeOf(listenTcp).returns.resolves.toEqualTypeOf<TransportListener>();
    expect(typeof Listener).toBe('function');
  });
});
