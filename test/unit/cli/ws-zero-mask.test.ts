import type { Command } from 'commander';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, exitCodeOf } from '../../../src/cli/exit.js';
import type { ConnectOpts } from '../../../src/cli/options.js';
import { buildProgram } from '../../../src/cli/program.js';
import { PASSWORD_ENV } from '../../../src/cli/secret.js';
import { connectOptions } from '../../../src/cli/session.js';

const saved = process.env[PASSWORD_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[PASSWORD_ENV];
  else process.env[PASSWORD_ENV] = saved;
});

/** The library options a connecting command would open its session with, for these flags. */
function optionsFor(name: string, flags: string[]) {
  const cmd = buildProgram(() => {}).commands.find((c) => c.name() === name) as Command;
  cmd.parseOptions(flags);
  process.env[PASSWORD_ENV] = 'zero-mask';
  return connectOptions(cmd.opts() as ConnectOpts, 'd', pino({ level: 'silent' }));
}

describe('--ws-zero-mask', () => {
  // The flag turns on wsZeroMask for node, dial and ping. It did nothing with a tcp:// or tls://
  // switcher, silently: now it is bad usage (exit 2), named by the flag the user typed. Without
  // the flag, every scheme is fine.
  it.for([
    ['tcp://127.0.0.1:7000', true, 'CLI_USAGE'],
    ['tls://127.0.0.1:7443', true, 'CLI_USAGE'],
    ['ws://127.0.0.1:7000/flex/ws', true, null],
    ['wss://127.0.0.1:7443/flex/ws', true, null],
    ['tcp://127.0.0.1:7000', false, null],
    ['tls://127.0.0.1:7443', false, null],
  ] as const)('%s with the flag %s: %s', ([url, on, code]) => {
    for (const name of ['node', 'dial', 'ping']) {
      const flags = ['-s', url, ...(on ? ['--ws-zero-mask'] : [])];
      if (code === null) {
        expect(optionsFor(name, flags).wsZeroMask).toBe(on);
        continue;
      }
      let err: unknown;
      try {
        optionsFor(name, flags);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CliError);
      expect(err).toMatchObject({ code });
      expect(exitCodeOf(err)).toBe(2);
      expect((err as Error).message).toContain(
        `--ws-zero-mask is for ws:// and wss:// switchers only, not ${url.slice(0, 4)}//`,
      );
    }
  });
});

describe('--ws-zero-mask with a URL that carries a password', () => {
  // The usage error quotes the URL: output, logs and errors show a password as `***`
  // (docs/cli.md, -s), and this message printed it as given.
  it('names the switcher without its password', () => {
    let err: unknown;
    try {
      optionsFor('dial', ['-s', 'tcp://user:hunter2@127.0.0.1:7000', '--ws-zero-mask']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).not.toContain('hunter2');
    expect((err as Error).message).toContain('user:***@127.0.0.1:7000');
  });
});
