import { afterEach, describe, expect, it } from 'vitest';
import type { FlexStream, Session } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { memorySessionTo } from '../helpers/sessions.js';

/**
 * A session's own events reach listeners in the middle of its state changes: what those
 * listeners call back into the session must find it consistent.
 */

const PASSWORD = 'reentry';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(): { sw: Switcher; s: Session<FlexStream> } {
  const sw = new Switcher({ password: PASSWORD });
  cleanups.push(() => sw.close({ timeout: 200 }));
  const s = memorySessionTo(sw, { password: PASSWORD, domain: 'reentry', heartbeatInterval: 0 });
  cleanups.push(() => s.close());
  return { sw, s };
}

describe('session.close() called again from a listener of its own close', () => {
  it("shuts down once: one 'close', and every call resolves once the connection is closed", async () => {
    // A cleanup shared with other exits, run on 'state' 'closed', called close() again. That
    // call found no close under way (close() had not returned yet) and shut the session down a
    // second time: 'close' came twice, and the outer call, finding the node already taken by the
    // inner one, resolved before the connection had closed.
    const { s } = setup();
    await s.ready();
    const node = s.node!;
    let closes = 0;
    s.on('close', () => closes++);
    let inner: Promise<void> | undefined;
    s.on('state', (state) => {
      if (state === 'closed') inner = s.close();
    });
    const outer = s.close();
    expect(inner).toBe(outer);
    await outer;
    expect(node.closed).toBe(true);
    await inner;
    expect(closes).toBe(1);
  });
});
