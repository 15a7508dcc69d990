import type { Command } from 'commander';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError, exitCodeOf } from '../../../src/cli/exit.js';
import type { ConnectOpts } from '../../../src/cli/options.js';
import { buildProgram } from '../../../src/cli/program.js';
import { PASSWORD_ENV } from '../../../src/cli/secret.js';
import { connectOptions } from '../../../src/cli/session.js';
import { certA } from '../../helpers/certs.js';

const saved = process.env[PASSWORD_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[PASSWORD_ENV];
  else process.env[PASSWORD_ENV] = saved;
});

/** The library options a connecting command would open its session with, for these flags. */
function optionsFor(name: string, flags: string[]) {
  const cmd = buildProgram(() => {}).commands.find((c) => c.name() === name) as Command;
  cmd.parseOptions(flags);
  process.env[PASSWORD_ENV] = 'tls-flags';
  return connectOptions(cmd.opts() as ConnectOpts, 'd', pino({ level: 'silent' }));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('--ca and --insecure with the switcher URL', () => {
  // Found by a new-user walkthrough: node, dial and ping passed their TLS options (--ca, and
  // rejectUnauthorized from --insecure) with every URL, and a tcp:// or ws:// session ignored them:
  // `--ca ca.pem -s tcp://...` ran in plain text without a word. The options now go with tls://
  // and wss:// only (connect() refuses them elsewhere), and either flag with a plain-text URL is
  // bad usage (exit 2), named by the flag.
  it.for([
    ['tcp://127.0.0.1:7000', '--ca', 'tls://'],
    ['ws://127.0.0.1:7080/flex/ws', '--ca', 'wss://'],
    ['tcp://127.0.0.1:7000', '--insecure', 'tls://'],
    ['ws://127.0.0.1:7080/flex/ws', '--insecure', 'wss://'],
  ] as const)('%s with %s is bad usage', ([url, flag, fix]) => {
    for (const name of ['node', 'dial', 'ping']) {
      const flags = ['-s', url, ...(flag === '--ca' ? ['--ca', certA.certFile] : ['--insecure'])];
      const err = thrown(() => optionsFor(name, flags));
      expect(err).toBeInstanceOf(CliError);
      expect(err).toMatchObject({ code: 'CLI_USAGE' });
      expect(exitCodeOf(err)).toBe(2);
      expect((err as Error).message).toMatch(
        new RegExp(`^${flag} \\(or .*\\) is for tls:// and wss:// switchers only`),
      );
      expect((err as Error).message).toContain(`use the switcher's ${fix} URL`);
    }
  });

  it.for(['tls://127.0.0.1:7443', 'wss://127.0.0.1:7443/flex/ws'])('%s takes them, as TLS options', (url) => {
    const o = optionsFor('dial', ['-s', url, '--ca', certA.certFile, '--insecure']);
    expect(o.tls?.rejectUnauthorized).toBe(false);
    expect(Buffer.isBuffer(o.tls?.ca)).toBe(true);
    // Without the flags: still TLS options, which verify.
    expect(optionsFor('dial', ['-s', url]).tls).toEqual({ ca: undefined, rejectUnauthorized: true });
  });

  it.for(['tcp://127.0.0.1:7000', 'ws://127.0.0.1:7080/flex/ws'])(
    '%s without them passes no TLS options (connect() would refuse them)',
    (url) => {
      for (const name of ['node', 'dial', 'ping']) expect(optionsFor(name, ['-s', url]).tls).toBeUndefined();
    },
  );

  it('names the switcher without its password', () => {
    const err = thrown(() => optionsFor('dial', ['-s', 'tcp://user:hunter2@127.0.0.1:7000', '--insecure']));
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).not.toContain('hunter2');
    expect((err as Error).message).toContain('user:***@127.0.0.1:7000');
  });
});

describe('the host and port of the switcher URL', () => {
  it('are refused where the URL parser or the resolver would read them as another address', () => {
    for (const [url, why] of [
      [
        'ws://alice:secret@010.0.0.5:7080/flex/ws',
        'invalid host "010.0.0.5": write an IPv4 address in decimal',
      ],
      ['tcp://192.168.001.010:7000', 'invalid host "192.168.001.010": write an IPv4 address in decimal'],
      ['tls://relay.example.org:0443', 'port "0443" has a leading zero: write 443'],
    ]) {
      const err = thrown(() => optionsFor('node', ['-s', url]));
      expect(err, url).toBeInstanceOf(CliError);
      expect(exitCodeOf(err)).toBe(2);
      expect((err as Error).message, url).toContain(
        `invalid switcher URL (-s, or FLEXMUX_SWITCHER, or switcher: in the config file): ${why}`,
      );
      // Neither the password nor the URL as its parser rewrote it (8.0.0.5).
      expect((err as Error).message).not.toMatch(/secret|8\.0\.0\.5/);
    }
    expect(optionsFor('node', ['-s', 'wss://alice:secret@relay.example.org/flex/ws']).password).toBe(
      'tls-flags',
    );
  });
});
