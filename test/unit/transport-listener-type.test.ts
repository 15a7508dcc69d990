import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Listener,
  listenTcp,
  listenTls,
  type SecureTransportListener,
  serveTcp,
  serveTls,
  serveWs,
  serveWss,
  type TransportListener,
} from '../../src/index.js';

describe('the package root names both listener types', () => {
  it('TransportListener is what serveTcp and listenTcp resolve to; Listener is the node class', () => {
    expectTypeOf(serveTcp).returns.resolves.toEqualTypeOf<TransportListener>();
    expectTypeOf(serveWs).returns.resolves.toEqualTypeOf<TransportListener>();
    expectTypeOf(listenTcp).returns.resolves.toEqualTypeOf<TransportListener>();
    expect(typeof Listener).toBe('function');
  });

  // The manual promises setSecureContext on TLS and WSS listeners, but their type had it optional:
  // a user renewing a certificate had to write `l.setSecureContext?.(...)` or `!` for a method that
  // is always there. (Checked by `tsc --noEmit -p .`, which covers test/.)
  it('serveTls, serveWss and listenTls resolve to a listener whose setSecureContext is required', () => {
    expectTypeOf(serveTls).returns.resolves.toEqualTypeOf<SecureTransportListener>();
    expectTypeOf(serveWss).returns.resolves.toEqualTypeOf<SecureTransportListener>();
    expectTypeOf(listenTls).returns.resolves.toEqualTypeOf<SecureTransportListener>();
    expectTypeOf<SecureTransportListener['setSecureContext']>().toBeFunction();
    expectTypeOf<SecureTransportListener>().toMatchTypeOf<TransportListener>();
  });
});
