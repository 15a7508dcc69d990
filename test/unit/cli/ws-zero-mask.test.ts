import type { Command } from 'commander';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
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
  it('turns on wsZeroMask for node, dial and ping, and is off without it', () => {
    for (const name of ['node', 'dial', 'ping']) {
      expect(optionsFor(name, ['--ws-zero-mask']).wsZeroMask).toBe(true);
      expect(optionsFor(name, []).wsZeroMask).toBe(false);
    }
  });
});
