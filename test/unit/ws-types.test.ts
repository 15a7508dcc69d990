import type * as tls from 'node:tls';
import { describe, expectTypeOf, it } from 'vitest';
import type { ClientOptions, WebSocket } from 'ws';
import type { WsClientOptions, WsSocket } from '../../src/transport/ws-types.js';

/**
 * The published types describe what flexmux takes from `ws` without importing @types/ws
 * (src/transport/ws-types.ts). These assertions are checked by the compiler (`tsc -p .`, which
 * reads test/): they hold while `ws`'s own types agree with ours.
 */
describe("the types for what flexmux takes from 'ws'", () => {
  it('take any ws WebSocket', () => {
    expectTypeOf<WebSocket>().toExtend<WsSocket>();
  });

  it("name options that ws's client or Node's tls.connect take", () => {
    expectTypeOf<keyof WsClientOptions>().toExtend<keyof ClientOptions | keyof tls.ConnectionOptions>();
  });
});
