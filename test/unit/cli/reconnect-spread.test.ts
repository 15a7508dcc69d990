import { describe, expect, it } from 'vitest';
import { nodeCommand, nodeSessionOptions } from '../../../src/cli/node.js';
import { sessionDefaults } from '../../../src/config.js';

/**
 * `flexmux node --reconnect-spread`, `--backoff-initial` and `--backoff-max` set the session's
 * reconnection options: a fleet too large for the default spread (about a thousand nodes a
 * switcher) had no way to raise it from the command line, nor a node any way to change its
 * back-off (1 s doubling to 30 s) at all.
 */

/** The session options `flexmux node` opens its session with, beyond the connection flags. */
function sessionOptionsFor(flags: string[]) {
  const cmd = nodeCommand().command;
  cmd.exitOverride().configureOutput({ writeErr: () => {} });
  cmd.parseOptions(flags);
  return nodeSessionOptions(cmd.opts());
}

/** What `flexmux node --help` gives as a flag's default. */
function helpDefault(long: string): string | undefined {
  return nodeCommand().command.options.find((o) => o.long === long)?.defaultValueDescription;
}

describe('flexmux node --reconnect-spread', () => {
  it('reaches the session as reconnectSpread, in ms; 0 allowed', () => {
    expect(sessionOptionsFor(['--reconnect-spread', '2s'])).toMatchObject({ reconnectSpread: 2_000 });
    expect(sessionOptionsFor(['--reconnect-spread', '0'])).toMatchObject({ reconnectSpread: 0 });
  });

  it('refuses what is not a duration', () => {
    expect(() => sessionOptionsFor(['--reconnect-spread', 'soon'])).toThrow(/duration/);
    expect(() => sessionOptionsFor(['--reconnect-spread', '-1s'])).toThrow(/duration/);
  });
});

describe('flexmux node --start-spread', () => {
  it('reaches the session as startSpread, in ms; 0 (at once) by default', () => {
    expect(sessionOptionsFor(['--start-spread', '10s'])).toMatchObject({ startSpread: 10_000 });
    expect(sessionOptionsFor([])).toMatchObject({ startSpread: 0 });
    expect(helpDefault('--start-spread')).toBe(`${sessionDefaults.startSpread}ms`);
  });

  it('refuses what is not a duration', () => {
    expect(() => sessionOptionsFor(['--start-spread', 'later'])).toThrow(/duration/);
  });
});

describe('flexmux node --backoff-initial and --backoff-max', () => {
  it('reach the session as backoffInitial and backoffMax, in ms', () => {
    expect(sessionOptionsFor(['--backoff-initial', '250ms', '--backoff-max', '2m'])).toMatchObject({
      backoffInitial: 250,
      backoffMax: 120_000,
    });
    expect(sessionOptionsFor(['--backoff-initial', '2'])).toMatchObject({ backoffInitial: 2 });
  });

  it('refuse 0 (a reconnect loop without back-off) and what is not a duration', () => {
    for (const f of ['--backoff-initial', '--backoff-max']) {
      expect(() => sessionOptionsFor([f, '0s'])).toThrow(/a back-off must be longer than 0/);
      expect(() => sessionOptionsFor([f, 'soon'])).toThrow(/duration/);
    }
  });
});

describe('the reconnection flags not given', () => {
  it("leave the session's defaults to it, which --help quotes", () => {
    const o = sessionOptionsFor([]);
    // Left out rather than set to the defaults: the session's default spread is also never longer
    // than the back-off, which a fixed 500 ms would break for --backoff-initial 200ms.
    for (const k of ['reconnectSpread', 'backoffInitial', 'backoffMax']) expect(o).not.toHaveProperty(k);
    expect(helpDefault('--reconnect-spread')).toBe(`${sessionDefaults.reconnectSpread}ms`);
    expect(helpDefault('--backoff-initial')).toBe(`${sessionDefaults.backoffInitial / 1000}s`);
    expect(helpDefault('--backoff-max')).toBe(`${sessionDefaults.backoffMax / 1000}s`);
  });

  it('are named in the rendered --help, not only in the option objects', () => {
    // Commander prints a default only for a defined value: these three read as having none.
    const help = nodeCommand().command.helpInformation().replace(/\s+/g, ' ');
    for (const [flag, shown] of [
      ['--reconnect-spread', `${sessionDefaults.reconnectSpread}ms`],
      ['--backoff-initial', `${sessionDefaults.backoffInitial / 1000}s`],
      ['--backoff-max', `${sessionDefaults.backoffMax / 1000}s`],
    ]) {
      expect(help).toMatch(new RegExp(`${flag} <duration> [^(]*\\(default: ${shown}[,)]`));
    }
  });
});
