import { describe, expect, it } from 'vitest';
import { nodeCommand, nodeSessionOptions } from '../../../src/cli/node.js';

/**
 * `flexmux node --reconnect-spread` sets the session option reconnectSpread: a fleet too large for
 * its default (about a thousand nodes a switcher) had no way to raise it from the command line.
 */

/** The session options `flexmux node` opens its session with, beyond the connection flags. */
function sessionOptionsFor(flags: string[]) {
  const cmd = nodeCommand().command;
  cmd.exitOverride().configureOutput({ writeErr: () => {} });
  cmd.parseOptions(flags);
  return nodeSessionOptions(cmd.opts());
}

describe('flexmux node --reconnect-spread', () => {
  it('reaches the session as reconnectSpread, in ms; 500 ms by default, 0 allowed', () => {
    expect(sessionOptionsFor([])).toMatchObject({ reconnectSpread: 500 });
    expect(sessionOptionsFor(['--reconnect-spread', '2s'])).toMatchObject({ reconnectSpread: 2_000 });
    expect(sessionOptionsFor(['--reconnect-spread', '0'])).toMatchObject({ reconnectSpread: 0 });
  });

  it('refuses what is not a duration', () => {
    expect(() => sessionOptionsFor(['--reconnect-spread', 'soon'])).toThrow(/duration/);
    expect(() => sessionOptionsFor(['--reconnect-spread', '-1s'])).toThrow(/duration/);
  });
});
