import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAllowedHost, startCliAdmin } from '../../../src/cli/admin-server.js';
import { describeError, exitCodeOf } from '../../../src/cli/exit.js';
import { buildProgram } from '../../../src/cli/program.js';
import { ConfigError } from '../../../src/errors.js';
import type { Switcher } from '../../../src/switcher/index.js';
import { silentLogger } from '../../../src/util/logger.js';

const startAdmin = vi.hoisted(() => vi.fn());
vi.mock('../../../src/admin/index.js', () => ({ startAdmin }));

const switcher = {} as Switcher;

describe('startCliAdmin', () => {
  afterEach(() => {
    startAdmin.mockReset();
  });

  it('makes a --admin address that cannot be listened on an I/O failure (exit 13), also a name that does not resolve', async () => {
    // What node:net rejects with for `--admin nosuchhost.invalid:7090`: a system error whose code
    // (ENOTFOUND, EAI_AGAIN) is not among the errnos exit.ts knows, so it used to exit 1.
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND nosuchhost.invalid'), {
      code: 'ENOTFOUND',
      errno: -3008,
      syscall: 'getaddrinfo',
      hostname: 'nosuchhost.invalid',
    });
    startAdmin.mockRejectedValueOnce(dns);
    const err = await startCliAdmin(
      { switcher },
      { host: 'nosuchhost.invalid', port: 7090 },
      't',
      silentLogger,
    ).catch((e: unknown) => e);
    expect(exitCodeOf(err)).toBe(13);
    expect(describeError(err)).toBe(
      'cannot listen on nosuchhost.invalid:7090 for the admin API: getaddrinfo ENOTFOUND nosuchhost.invalid [CLI_IO]',
    );
  });

  it('leaves a bad option a usage error (exit 2)', async () => {
    startAdmin.mockRejectedValueOnce(
      new ConfigError('admin on 0.0.0.0 is reachable from other machines: set a token'),
    );
    const err = await startCliAdmin(
      { switcher },
      { host: '0.0.0.0', port: 7090 },
      undefined,
      silentLogger,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(exitCodeOf(err)).toBe(2);
  });

  it('hands the --admin-allowed-host names to the admin server, and refuses one with a port', async () => {
    const server = { registry: {}, url: 'http://127.0.0.1:7090/' };
    startAdmin.mockResolvedValueOnce(server);
    await startCliAdmin({ switcher }, { host: '127.0.0.1', port: 7090 }, 't', silentLogger, undefined, [
      'admin.example',
    ]);
    expect(startAdmin.mock.calls[0]?.[0]).toMatchObject({ allowedHosts: ['admin.example'] });
    const program = buildProgram(() => {});
    const sw = program.commands.find((c) => c.name() === 'switcher')!;
    for (const bad of ['admin.example:443', 'http://admin.example', '']) {
      expect(() =>
        sw.options.find((o) => o.long === '--admin-allowed-host')!.parseArg!(bad, undefined),
      ).toThrow(/host name|empty/);
    }
    expect(parseAllowedHost('[::1]')).toBe('[::1]');
  });
});
