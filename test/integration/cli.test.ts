import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, type ExpectStatic, it, vi } from 'vitest';
import { type CliChild, freePort, killAll, runCli, runCliToEnd } from '../helpers/cli.js';

// Each CLI process starts through tsx: allow for a loaded machine. The tests run concurrently and
// each waits for its own process (runCliToEnd kills it on timeout), so cleanup waits for the end.
vi.setConfig({ testTimeout: 90_000 });
afterAll(() => killAll(true));

const COMMANDS = ['switcher', 'node', 'dial', 'ping', 'clients', 'kick'];

/** Lines of `text` longer than 80 columns (commander wraps to 80 when stdout is not a terminal). */
function overlong(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 80);
}

describe.concurrent('flexmux --help', () => {
  it('lists every command, within 80 columns, and exits 0', async ({ expect }) => {
    const r = await runCliToEnd(['--help'], { env: { COLUMNS: '80' } });
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    expect(overlong(r.stdout)).toEqual([]);
  });

  it.for(COMMANDS)('%s --help prints its usage within 80 columns and exits 0', async (c, { expect }) => {
    const r = await runCliToEnd([c, '--help'], { env: { COLUMNS: '80' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: flexmux ${c}`);
    expect(r.stdout).toContain('--log-level');
    expect(overlong(r.stdout)).toEqual([]);
    expect(r.stderr).toBe('');
  });

  it('prints the version', async ({ expect }) => {
    const r = await runCliToEnd(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

// The text is the result of --help and --version: lost to a stdout that failed, it exited 0 all
// the same (the write's error came after the process had ended).
describe.concurrent('--help and --version on a stdout that fails', () => {
  it.for(['--version', 'switcher --help', 'help kick'])(
    '%s on a full disk: exit 13, stdout named',
    async (line, { expect }) => {
      const args = line.split(' ');
      const full = await open('/dev/full', 'w');
      let child: CliChild;
      try {
        child = runCli(args, { stdout: full.fd });
      } finally {
        await full.close();
      }
      expect(await child.exited, child.stderr).toBe(13);
      const what = args[0] === '--version' ? 'version' : 'help';
      expect(child.stderr).toMatch(
        new RegExp(`^flexmux: stdout failed before the ${what} went out: ENOSPC: .*\\[CLI_IO\\]$`, 'm'),
      );
    },
  );

  it('--help whose reader went away: exit 141, quietly', async ({ expect }) => {
    const child = runCli(['--help']);
    // The reader closes its end before the help comes (the child is still starting).
    child.proc.stdout?.destroy();
    expect(await child.exited, child.stderr).toBe(141);
    expect(child.stderr).toBe('');
  });
});

describe.concurrent('bad usage exits 2 with a clear message', () => {
  it('no command', async ({ expect }) => {
    const r = await runCliToEnd([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: flexmux');
  });

  it('unknown command', async ({ expect }) => {
    const r = await runCliToEnd(['frobnicate']);
    expect(r.code).toBe(2);
    // The same hint as a command's bad usage, naming what to run.
    expect(r.stderr).toBe(
      "flexmux: unknown command 'frobnicate' [CLI_USAGE]\n(run flexmux --help for usage)\n",
    );
  });

  it('help for an unknown command says so, as the unknown command does', async ({ expect }) => {
    const r = await runCliToEnd(['help', 'pign']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("flexmux: unknown command 'pign' [CLI_USAGE]\n(run flexmux --help for usage)\n");
    // A known one still prints its help.
    const known = await runCliToEnd(['help', 'ping']);
    expect(known.code).toBe(0);
    expect(known.stdout).toContain('Usage: flexmux ping');
    // And the help command, listed among the commands, is no unknown one.
    const help = await runCliToEnd(['help', 'help']);
    expect(help.stderr).not.toContain('unknown command');
    expect(help.stderr).toContain('Usage: flexmux');
  });

  it('unknown flag', async ({ expect }) => {
    const r = await runCliToEnd(['switcher', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("flexmux switcher: unknown option '--bogus' [CLI_USAGE]\n");
    expect(r.stderr).toContain('flexmux switcher --help');
  });

  it.for([
    [['switcher', '--tcp', 'nope'], 'expected HOST:PORT'],
    [['switcher', '--tcp', '127.0.0.1:99999'], 'port must be an integer in 0..65535'],
    [['switcher', '--admission-timeout', 'soon'], 'expected a duration'],
    [['switcher', '--log-level', 'loud'], 'Allowed choices are silent, error, warn, info, debug, trace'],
    [['node', '-d', 'alice', '--expose', '22'], 'expected PORT=HOST:PORT'],
    [['node', '-d', 'alice', '--forward', '8080=bob'], '"bob" is not DOMAIN:PORT'],
    [['node', '-d', '-bad-'], 'invalid domain'],
    // Valid characters, a reserved name: said as such, not as the character rule.
    [['node', '-d', 'LocalHost'], 'invalid domain "LocalHost": localhost is reserved [CLI_USAGE]'],
    [['ping', 'local'], 'invalid domain "local": local is reserved [CLI_USAGE]'],
    [
      ['dial', 'alice'],
      '"alice" is not DOMAIN:PORT: a node\'s domain (or virtual IP) and a virtual port, such as alice:22',
    ],
    [['ping', '-c', 'x'], 'expected an integer >= 1'],
    [['ping', '-W', '0', 'x'], 'a timeout must be longer than 0'],
    [['dial', '--dial-timeout', '0ms', 'alice:22'], 'a timeout must be longer than 0'],
    [['dial', '--stats', '--stats-interval', '0', 'alice:22'], 'an interval of at least 100ms'],
    [
      ['dial', '-s', 'tcp://127.0.0.1:1', '--ws-zero-mask', 'alice:22'],
      '--ws-zero-mask is for ws:// and wss://',
    ],
  ] as const)('%j', async ([args, message], { expect }) => {
    const r = await runCliToEnd(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    // Every usage error is the documented one line: `flexmux COMMAND: what went wrong [CODE]`.
    expect(r.stderr).toMatch(new RegExp(`^flexmux ${args[0]}: .+ \\[(CLI_USAGE|FLEX_ERR_CONFIG)\\]$`, 'm'));
  });

  it('a missing argument', async ({ expect }) => {
    const r = await runCliToEnd(['dial']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("flexmux dial: missing required argument 'domain:port' [CLI_USAGE]\n");
  });

  it('node without a domain', async ({ expect }) => {
    const r = await runCliToEnd(['node'], { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('a domain is required');
    // The hint docs/cli.md promises after every usage error, not only commander's own.
    expect(r.stderr).toContain('[CLI_USAGE]\n(run flexmux node --help for usage)\n');
  });

  it('a value the switcher refuses (FLEX_ERR_CONFIG) ends with the --help hint too', async ({ expect }) => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-limit-'));
    const file = join(dir, 'flexmux.yaml');
    writeFileSync(file, 'switcher:\n  max-clients: 99999999\n');
    try {
      const r = await runCliToEnd(['switcher', '--config', file], { env: { FLEXMUX_PASSWORD: 'x' } });
      expect(r.code).toBe(2);
      // Named by the file and its key, as every other value of the file is.
      expect(r.stderr).toContain(
        `flexmux switcher: config file ${file}: switcher.max-clients: "99999999" is invalid: expected an integer in 1..65534 [FLEX_ERR_CONFIG]\n(run flexmux switcher --help for usage)\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The switcher's own check named them by its option names (`option maxClients must be an
  // integer in 1..65534, got 70000`), which no flag, variable or config key is called.
  it.for([
    [
      ['--max-clients', '70000'],
      "option '--max-clients <n>' argument '70000' is invalid. expected an integer in 1..65534",
    ],
    [
      ['--max-pending-admissions', '99999999'],
      "option '--max-pending-admissions <n>' argument '99999999' is invalid",
    ],
    [
      ['--max-streams-per-client', '99999999'],
      "option '--max-streams-per-client <n>' argument '99999999' is invalid",
    ],
    [
      ['--failed-admission-burst', '99999999'],
      "option '--failed-admission-burst <n>' argument '99999999' is invalid",
    ],
    [
      ['--admission-timeout', '0'],
      "option '--admission-timeout <duration>' argument '0' is invalid. a timeout must be longer than 0",
    ],
    [['--liveness-timeout', '0ms'], "option '--liveness-timeout <duration>' argument '0ms' is invalid"],
    [
      ['--max-queue-per-client', '0'],
      "option '--max-queue-per-client <size>' argument '0' is invalid. expected a size in 1..1099511627776 bytes",
    ],
    [
      ['--max-queue-per-source', '2048G'],
      "option '--max-queue-per-source <size>' argument '2048G' is invalid",
    ],
  ] as const)('switcher %j out of range is named by its flag', async ([args, message], { expect }) => {
    const r = await runCliToEnd(['switcher', ...args, '--check-config'], { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`flexmux switcher: ${message}`);
    expect(r.stderr).not.toMatch(/option [a-z]+[A-Z]/);
  });

  it('a limit out of range from its variable names the variable', async ({ expect }) => {
    const r = await runCliToEnd(['switcher', '--check-config'], {
      env: { FLEXMUX_PASSWORD: 'x', FLEXMUX_MAX_CLIENTS: '70000' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "option '--max-clients <n>' value '70000' from env 'FLEXMUX_MAX_CLIENTS' is invalid. expected an integer in 1..65534 [CLI_USAGE]",
    );
  });

  it('dial without a password', async ({ expect }) => {
    const r = await runCliToEnd(['dial', 'alice:22']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no password: set FLEXMUX_PASSWORD or pass --password-file FILE');
  });

  it('an unreadable password file', async ({ expect }) => {
    const r = await runCliToEnd(['switcher', '--password-file', '/nonexistent/pw']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read the password file /nonexistent/pw');
  });

  it.for([[''], ['\n']])(
    'an empty password file (%j): refused, not a switcher anyone can join',
    async ([content], { expect }) => {
      const dir = mkdtempSync(join(tmpdir(), 'flexmux-pw-'));
      const file = join(dir, 'pw');
      writeFileSync(file, content!);
      try {
        const r = await runCliToEnd(['switcher', '--tcp', '127.0.0.1:0', '--password-file', file]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`the password file ${file} is empty [CLI_USAGE]`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('an unsupported switcher URL', async ({ expect }) => {
    const r = await runCliToEnd(['ping', '-s', 'udp://127.0.0.1:1'], { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unsupported switcher URL scheme');
  });

  it('node: a switcher URL that no attempt can use exits 2 instead of going on without a session', async ({
    expect,
  }) => {
    // ws refuses a URL with a fragment as the dial starts: the session closes (ConfigError)
    // instead of retrying. Before, the node went on: exit 0 with nothing on stderr but a log
    // line, or, with a --forward listener keeping it alive, running for ever without a session.
    const url = 'ws://127.0.0.1:1/flex/ws#fragment';
    const runs = await Promise.all([
      runCliToEnd(['node', '-s', url, '-d', 'alice'], { env: { FLEXMUX_PASSWORD: 'x' }, timeout: 20_000 }),
      runCliToEnd(['node', '-s', url, '-d', 'alice', '-f', '0=bob:1'], {
        env: { FLEXMUX_PASSWORD: 'x' },
        timeout: 20_000,
      }),
    ]);
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^flexmux node: .*fragment.* \[FLEX_ERR_CONFIG\]$/m);
    }
  });

  it('--tls without a certificate', async ({ expect }) => {
    const r = await runCliToEnd(['switcher', '--tls', '127.0.0.1:0'], { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tls and --wss need --cert FILE');
  });

  // Neither file was read (a check said OK for one that does not exist), and the switcher served
  // plain text only where TLS was meant.
  it.for([
    [['--cert', '/nonexistent/fullchain.pem', '--key', '/nonexistent/privkey.pem'], '--cert'],
    [['--tcp', '127.0.0.1:0', '--key', '/nonexistent/privkey.pem'], '--key'],
  ] as const)('switcher %j without --tls or --wss is bad usage', async ([args, flag], { expect }) => {
    for (const check of [['--check-config'], []]) {
      const r = await runCliToEnd(['switcher', ...args, ...check], { env: { FLEXMUX_PASSWORD: 'x' } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`flexmux switcher: ${flag} (or FLEXMUX_`);
      expect(r.stderr).toContain('is for --tls and --wss listeners, and none is given');
      expect(r.stderr).not.toContain('switcher ready');
    }
  });

  // The second could never listen: a start bound the first, then failed (exit 13), and a check
  // said OK. A port the system picks (0) may repeat.
  it.for([
    [['--tcp', '127.0.0.1:1', '--tcp', '127.0.0.1:1'], 'to the tcp:// listener and to the tcp:// listener'],
    [['--ws', '127.0.0.1:1/a', '--wss', '127.0.0.1:1/b'], 'to the ws:// listener and to the wss:// listener'],
    // The default listeners count: 127.0.0.1:7000 is the tcp:// one when no listener is given.
    [['--admin', ':7000'], '127.0.0.1:7000 is given twice, to the tcp:// listener and to the admin API'],
    [['--tcp', '127.0.0.1:1', '--demo', '127.0.0.1:1'], 'to the tcp:// listener and to the demo page'],
    // A wildcard takes the port on every address of its family (`::` on both), `localhost` on
    // the loopback ones: text apart, the check said OK and the start failed (exit 13).
    [
      ['--tcp', '0.0.0.0:1', '--admin', '127.0.0.1:1'],
      '0.0.0.0:1 and 127.0.0.1:1 overlap, given to the tcp:// listener and to the admin API',
    ],
    [['--tcp', 'localhost:1', '--ws', '127.0.0.1:1/a'], 'localhost:1 and 127.0.0.1:1 overlap'],
    [['--tcp', '[::1]:1', '--demo', '[::]:1'], '[::1]:1 and [::]:1 overlap'],
  ] as const)(
    'switcher %j: one address for two listeners is bad usage',
    async ([args, message], { expect }) => {
      const r = await runCliToEnd(['switcher', ...args, '--check-config'], {
        env: { FLEXMUX_PASSWORD: 'x' },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('each needs an address of its own [CLI_USAGE]');
    },
  );

  it('node: --admin on a --forward address is bad usage', async ({ expect }) => {
    const args = ['node', '-d', 'alice', '-f', '7091=bob:22', '--admin', ':7091', '--check-config'];
    const r = await runCliToEnd(args, { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'flexmux node: 127.0.0.1:7091 is given twice, to --admin and to a --forward: each needs an address of its own [CLI_USAGE]',
    );
    // Another interface (--bind) is another address.
    const apart = await runCliToEnd([...args.slice(0, -1), '--bind', '127.0.0.2', '--check-config'], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(apart.code).toBe(0);
    // An interface that covers the admin API's address is not.
    const wildcard = await runCliToEnd([...args.slice(0, -1), '--bind', '0.0.0.0', '--check-config'], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(wildcard.code).toBe(2);
    expect(wildcard.stderr).toContain(
      '127.0.0.1:7091 and 0.0.0.0:7091 overlap, given to --admin and to a --forward',
    );
  });

  it('switcher: port 0 may be given to every listener', async ({ expect }) => {
    const r = await runCliToEnd(
      ['switcher', '--tcp', '127.0.0.1:0', '--tcp', '127.0.0.1:0', '--check-config'],
      {
        env: { FLEXMUX_PASSWORD: 'x' },
      },
    );
    expect(r.code).toBe(0);
  });

  it('switcher usage errors come before a password is generated or a listener bound', async ({ expect }) => {
    // No FLEXMUX_PASSWORD: the password used to be generated and printed, and with --admin the
    // TCP listener bound, for a run that then ended in a usage error.
    const [tls, admin] = await Promise.all([
      runCliToEnd(['switcher', '--tls', '127.0.0.1:0']),
      runCliToEnd(['switcher', '--tcp', '127.0.0.1:0', '--admin', '0.0.0.0:0']),
    ]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toBe(
      'flexmux switcher: --tls and --wss need --cert FILE [CLI_USAGE]\n(run flexmux switcher --help for usage)\n',
    );
    expect(admin.code).toBe(2);
    // In the flags and variables of the CLI, not the admin module's option names ('set a token').
    expect(admin.stderr).toBe(
      'flexmux switcher: --admin 0.0.0.0:0 is reachable from other machines: give it a token (FLEXMUX_ADMIN_TOKEN or --admin-token-file FILE), or serve it on 127.0.0.1 [CLI_USAGE]\n(run flexmux switcher --help for usage)\n',
    );
  });

  it('node --admin on a non-loopback address without a token names the CLI flags', async ({ expect }) => {
    const r = await runCliToEnd(['node', '-d', 'a', '--admin', '0.0.0.0:0', '--log-level', 'error'], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('give it a token (FLEXMUX_ADMIN_TOKEN or --admin-token-file FILE)');
  });

  it('--ca with a file that holds no certificate', async ({ expect }) => {
    const r = await runCliToEnd(['ping', '-s', 'tls://127.0.0.1:1', '--ca', 'README.md', 'x'], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the CA file README.md holds no certificate');
  });

  it('--tls with files that are not PEM', async ({ expect }) => {
    const r = await runCliToEnd(
      ['switcher', '--tls', '127.0.0.1:0', '--cert', 'README.md', '--key', 'README.md'],
      {
        env: { FLEXMUX_PASSWORD: 'x' },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad --cert README.md or --key README.md');
    expect(r.stderr).toContain('[CLI_USAGE]');
  });
});

describe('a password in the switcher URL', () => {
  // ws:// and wss:// URLs may carry user:password for a proxy's basic authentication (the ws
  // library sends it); the commands printed and logged the URL whole.
  it('is not printed by ping nor logged by node', async ({ expect }) => {
    const port = await freePort();
    const url = `ws://relay-user:s3cret-pw@127.0.0.1:${port}/flex/ws`;
    const ping = await runCliToEnd(['ping', '-c', '1', '-s', url], { env: { FLEXMUX_PASSWORD: 'x' } });
    expect(ping.code).toBe(6);
    expect(ping.stderr).toContain(`ws://relay-user:***@127.0.0.1:${port}/flex/ws`);
    const node = runCli(['node', '-d', 'alice', '-s', url], { env: { FLEXMUX_PASSWORD: 'x' } });
    await node.waitForLog('session attempt failed');
    expect(node.logs.find((l) => l.msg === 'node started')?.switcher).toBe(
      `ws://relay-user:***@127.0.0.1:${port}/flex/ws`,
    );
    node.proc.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    for (const out of [ping.stdout, ping.stderr, node.stdout, node.stderr]) {
      expect(out).not.toContain('s3cret');
    }
  });
});

/**
 * Runs `flexmux node` with the options `args` makes from a port already in use, against a fake
 * switcher: the node exits 13 ([CLI_IO]) and never connects to the switcher.
 */
async function exitsWithoutConnecting(expect: ExpectStatic, args: (busy: number) => string[]): Promise<void> {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const fake = net.createServer();
  const seen: net.Socket[] = [];
  fake.on('connection', (s) => seen.push(s));
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  try {
    const busy = (taken.address() as net.AddressInfo).port;
    const sw = (fake.address() as net.AddressInfo).port;
    const r = await runCliToEnd(['node', '-s', `tcp://127.0.0.1:${sw}`, ...args(busy)], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(r.code).toBe(13);
    expect(r.stderr).toContain('[CLI_IO]');
    // Connections are accepted in order: once ours is in, any from the node would be too.
    const probe = net.connect(sw, '127.0.0.1');
    await new Promise<void>((resolve) => fake.once('connection', () => resolve()));
    probe.destroy();
    expect(seen.length).toBe(1);
  } finally {
    for (const s of seen) s.destroy();
    fake.close();
    taken.close();
  }
}

describe('node with a --forward port already in use', () => {
  // The session used to start before the listeners were bound: the switcher saw a connection (an
  // admission, or a warning 'admission refused ... closed') from a node that then exited 13, and
  // the domain was claimed, even taken over from an unresponsive holder, for nothing.
  it('exits 13 without connecting to the switcher', async ({ expect }) => {
    await exitsWithoutConnecting(expect, (busy) => ['-d', 'busyport', '--forward', `${busy}=x:1`]);
  });
});

describe('node with an --admin port already in use', () => {
  // The admin server used to start after the session: the switcher saw an admission and the
  // domain was claimed, as for --forward before, by a node that then exited 13.
  it('exits 13 without connecting to the switcher', async ({ expect }) => {
    await exitsWithoutConnecting(expect, (busy) => ['-d', 'busyadmin', '--admin', `127.0.0.1:${busy}`]);
  });
});
