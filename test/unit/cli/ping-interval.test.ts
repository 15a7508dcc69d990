import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeOf } from '../../../src/cli/exit.js';
import { pingCommand } from '../../../src/cli/ping.js';

/** The error `ping` refuses these flags with (commander's, as the CLI gets it), or the opts taken. */
function parsed(flags: string[]): { err?: unknown; interval?: unknown } {
  const cmd = pingCommand().command;
  let stderr = '';
  cmd.exitOverride().configureOutput({ writeErr: (t) => (stderr += t) });
  try {
    cmd.parseOptions(flags);
  } catch (err) {
    return { err: Object.assign(err as object, { stderr }) };
  }
  return { interval: cmd.opts().interval };
}

describe('ping -i', () => {
  it.for([['0'], ['0s'], ['0ms'], ['0.0001']])('refuses -i %s as bad usage (exit 2), saying why', ([v]) => {
    // 0 means "off" or "never" for the other durations of the CLI; taken, it pinged back to back.
    const { err } = parsed(['-i', v]);
    expect(err).toBeInstanceOf(CommanderError);
    expect(exitCodeOf(err)).toBe(ExitCode.USAGE);
    expect((err as { stderr: string }).stderr).toContain('an interval must be longer than 0');
  });

  it('takes a short interval, and a bare number as seconds', () => {
    expect(parsed(['-i', '10ms']).interval).toBe(10);
    expect(parsed(['-i', '0.2']).interval).toBe(200);
    expect(parsed([]).interval).toBe(1_000);
  });
});
