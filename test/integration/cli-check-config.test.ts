import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { certA, certB, certExpired } from '../helpers/certs.js';
import { type CliChild, freePort, killAll, runCli, runCliToEnd } from '../helpers/cli.js';

/**
 * `--check-config` of `switcher` and `node` (as `nginx -t`): settings and files checked as a start
 * would, one line on stdout and exit 0, or the start's own error line and exit code; nothing bound.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flexmux-check-config-'));
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Resolves once 127.0.0.1:`port` could be bound (and closes it again): nothing listens there. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The lines a failed command prints, without its JSON log lines (a start logs before it fails). */
const errorLines = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => !l.startsWith('{'))
    .join('\n');

/** The check's result and the start's, which must fail the same way. */
async function checkAndStart(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; startCode: number; startStderr: string }> {
  const check = await runCliToEnd([...args, '--check-config'], { env });
  const start = await runCliToEnd(args, { env });
  return {
    code: check.code,
    stderr: check.stderr,
    startCode: start.code,
    startStderr: errorLines(start.stderr),
  };
}

describe('--check-config', () => {
  it('switcher: a good config prints one line and exits 0, binding none of its ports', async () => {
    const [tcp, tls, admin] = await Promise.all([freePort(), freePort(), freePort()]);
    const pw = file('good.pw', 'shared\n');
    const token = file('token', 'admin-token\n');
    const extra = file('extra.pw', 'team\n');
    const config = file(
      'good.yaml',
      `
password-file: ${pw}
switcher:
  tcp: 127.0.0.1:${tcp}
  tls: 127.0.0.1:${tls}
  cert: ${certA.certFile}
  key: ${certA.keyFile}
  admin: 127.0.0.1:${admin}
  admin-token-file: ${token}
  access:
    passwords:
      - password-file: ${extra}
        domains: [team-*]
`,
    );
    const r = await runCliToEnd(['switcher', '--config', config, '--check-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `configuration OK: switcher on tcp://127.0.0.1:${tcp}, tls://127.0.0.1:${tls}; admin on 127.0.0.1:${admin}\n`,
    );
    expect(r.stderr).not.toContain('switcher ready');
    expect(await Promise.all([bindable(tcp), bindable(tls), bindable(admin)])).toEqual([true, true, true]);
  });

  it('switcher: an expired certificate passes, as a start serves it, with a warning that a reload refuses it', async () => {
    const tls = await freePort();
    const args = ['switcher', '--tls', `127.0.0.1:${tls}`, '--key', certExpired.keyFile, '--check-config'];
    const env = { FLEXMUX_PASSWORD: 'p', FLEXMUX_LOG_FORMAT: 'json' };
    const r = await runCliToEnd([...args, '--cert', certExpired.certFile], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`configuration OK: switcher on tls://127.0.0.1:${tls}\n`);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.map((l) => JSON.parse(l) as { level: number; msg: string })).toEqual([
      expect.objectContaining({
        level: 40,
        msg: `the certificate in ${certExpired.certFile} expired on 2020-04-01T00:00:00.000Z: a start serves it (verifying clients refuse it), a reload refuses it and keeps the one in use`,
      }),
    ]);
    // A valid one: no word.
    const ok = await runCliToEnd(
      [
        'switcher',
        '--tls',
        `127.0.0.1:${tls}`,
        '--key',
        certA.keyFile,
        '--cert',
        certA.certFile,
        '--check-config',
      ],
      { env },
    );
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    // A valid leaf whose chain holds an expired certificate after it: only the leaf was read, and
    // the check said OK without a word for a chain that verifying clients refuse.
    const chain = file('chain-expired.pem', `${certA.cert}${certExpired.cert}`);
    const r2 = await runCliToEnd(
      ['switcher', '--tls', `127.0.0.1:${tls}`, '--key', certA.keyFile, '--cert', chain, '--check-config'],
      { env },
    );
    expect(r2.code).toBe(0);
    const lines2 = r2.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines2.map((l) => JSON.parse(l) as { level: number; msg: string })).toEqual([
      expect.objectContaining({
        level: 40,
        msg: `in the chain in ${chain}, certificate 2 (CN=localhost) expired on 2020-04-01T00:00:00.000Z: clients that verify through it refuse the handshake; a start and a reload serve it`,
      }),
    ]);
  });

  it('switcher: each bad setting gives the start’s error line and exit code', async () => {
    const pw = file('bad.pw', 'shared\n');
    const base = (more: string): string => `password-file: ${pw}\nswitcher:\n  tcp: 127.0.0.1:0\n${more}`;
    const cases: [string, string, RegExp][] = [
      [
        'mismatch.yaml',
        base(`  tls: 127.0.0.1:0\n  cert: ${certA.certFile}\n  key: ${certB.keyFile}\n`),
        /bad --cert .* or --key .*\[CLI_USAGE\]/,
      ],
      [
        'missing-pw.yaml',
        `password-file: ${join(dir, 'nowhere.pw')}\nswitcher:\n  tcp: 127.0.0.1:0\n`,
        /cannot read the password file .*nowhere\.pw/,
      ],
      [
        'access.yaml',
        base('  access:\n    passwords:\n      - password: x\n        domains: ["Bad Pattern"]\n'),
        /domain pattern "Bad Pattern"/,
      ],
      ['access-key.yaml', base('  access:\n    dail: []\n'), /unknown setting "dail"/],
      ['unknown.yaml', base('  max-clientz: 3\n'), /unknown setting "switcher.max-clientz"/],
      [
        'admin.yaml',
        base('  admin: 0.0.0.0:0\n'),
        /--admin 0\.0\.0\.0:0 is reachable from other machines: give it a token .*\[CLI_USAGE\]/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const r = await checkAndStart(['switcher', '--config', file(name, text)]);
      expect({ name, code: r.code }).toEqual({ name, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.startCode).toBe(2);
      expect(r.stderr).toBe(r.startStderr);
    }
  });

  it('switcher: empty listener lists leave no listener, refused rather than taken for the defaults', async () => {
    // `tcp: []` is none (docs/cli.md), yet alone it counted as no setting: check and start took
    // the default listeners, the tcp:// one included. The check comes first: it would have said OK.
    const pw = file('empty.pw', 'shared\n');
    const empty = file('empty-tcp.yaml', `password-file: ${pw}\nswitcher:\n  tcp: []\n  ws: []\n`);
    const check = await runCliToEnd(['switcher', '--config', empty, '--check-config']);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(
      /tcp: \[\], ws: \[\] in the config file leaves the switcher no listener: give one .*\[CLI_USAGE\]/,
    );
    const start = await runCliToEnd(['switcher', '--config', empty]);
    expect(start.code).toBe(2);
    expect(errorLines(start.stderr)).toBe(check.stderr);
    // With another listener given, the empty list is only no tcp:// listener.
    const ws = await freePort();
    const other = await runCliToEnd([
      'switcher',
      '--config',
      empty,
      '--ws',
      `127.0.0.1:${ws}`,
      '--check-config',
    ]);
    expect(other.stdout).toBe(`configuration OK: switcher on ws://127.0.0.1:${ws}/flex/ws\n`);
    expect(other.code).toBe(0);
    // The demo page serves the switcher's WebSocket: with it, the empty lists leave that one.
    const demo = await runCliToEnd([
      'switcher',
      '--config',
      empty,
      '--demo',
      `127.0.0.1:${ws}`,
      '--check-config',
    ]);
    expect(demo.stdout).toBe(
      `configuration OK: switcher on the demo page only; demo page on 127.0.0.1:${ws}\n`,
    );
    expect(demo.code).toBe(0);
  });

  it('warns of an admin API or demo page on a port browsers and fetch refuse, and passes', async () => {
    // The dashboard could never be opened on 6000 (nor the demo page on 6665), without a word.
    const env = { FLEXMUX_PASSWORD: 'p', FLEXMUX_LOG_FORMAT: 'json' };
    const tcp = await freePort();
    const logged = (stderr: string): { level: number; msg: string; port: number }[] =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; port: number });
    const sw = await runCliToEnd(
      [
        'switcher',
        '--tcp',
        `127.0.0.1:${tcp}`,
        '--admin',
        '127.0.0.1:6000',
        '--demo',
        '127.0.0.1:6665',
        '--check-config',
      ],
      { env },
    );
    expect(sw.code).toBe(0);
    expect(logged(sw.stderr)).toEqual([
      expect.objectContaining({
        level: 40,
        port: 6000,
        msg: "the admin API on port 6000: browsers and fetch refuse to connect to it (the Fetch standard's bad ports), so the dashboard cannot be opened there, nor can flexmux clients and kick reach it; serve it on another port",
      }),
      expect.objectContaining({
        level: 40,
        port: 6665,
        msg: "the demo page on port 6665: browsers and fetch refuse to connect to it (the Fetch standard's bad ports), so the demo page cannot be opened there; serve it on another port",
      }),
    ]);
    const node = await runCliToEnd(
      ['node', '-s', `tcp://127.0.0.1:${tcp}`, '-d', 'alice', '--admin', '127.0.0.1:10080', '--check-config'],
      { env },
    );
    expect(node.code).toBe(0);
    expect(logged(node.stderr)).toEqual([
      expect.objectContaining({
        level: 40,
        port: 10080,
        msg: expect.stringMatching(/^the admin API on port 10080: /),
      }),
    ]);
    // A WebSocket listener there: browser nodes cannot reach it (flexmux nodes can).
    const ws = await runCliToEnd(
      [
        'switcher',
        '--ws',
        '127.0.0.1:6667',
        '--wss',
        '127.0.0.1:6697',
        '--cert',
        certA.certFile,
        '--key',
        certA.keyFile,
        '--check-config',
      ],
      { env },
    );
    expect(ws.code).toBe(0);
    expect(logged(ws.stderr).map((l) => [l.level, l.port, l.msg])).toEqual([
      [
        40,
        6667,
        "the ws:// listener on port 6667: browsers and fetch refuse to connect to it (the Fetch standard's bad ports), so browser nodes (docs/browser.md) cannot connect there, flexmux nodes can; give browsers another port",
      ],
      [40, 6697, expect.stringMatching(/^the wss:\/\/ listener on port 6697: browsers and fetch refuse /)],
    ]);
    // Another port: no word.
    const admin = await freePort();
    const ok = await runCliToEnd(
      ['switcher', '--tcp', `127.0.0.1:${tcp}`, '--admin', `127.0.0.1:${admin}`, '--check-config'],
      { env },
    );
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
  });

  it('node: a good config exits 0 without listening or connecting; bad ones fail as the start does', async () => {
    const [forward, admin, sw] = await Promise.all([freePort(), freePort(), freePort()]);
    // A switcher address that nothing serves: the check must not try it.
    const pw = file('node.pw', 'secret\n');
    const good = file(
      'node.yaml',
      `switcher: tls://127.0.0.1:${sw}\npassword-file: ${pw}\nnode:\n  domain: alice\n  expose: [22=127.0.0.1:22]\n  forward: [${forward}=bob:80]\n  admin: 127.0.0.1:${admin}\n  ca: ${certA.certFile}\n`,
    );
    const r = await runCliToEnd(['node', '--config', good, '--check-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `configuration OK: node alice on tls://127.0.0.1:${sw}; expose 22=127.0.0.1:22, forward 127.0.0.1:${forward}=bob:80; admin on 127.0.0.1:${admin}\n`,
    );
    expect(r.stderr).not.toContain('session');
    expect(await Promise.all([bindable(forward), bindable(admin)])).toEqual([true, true]);

    const node = (more: string): string =>
      `switcher: tcp://127.0.0.1:${sw}\npassword-file: ${pw}\nnode:\n  domain: alice\n${more}`;
    const cases: [string, string, RegExp][] = [
      [
        'dup-expose.yaml',
        node('  expose: [7=127.0.0.1:1, 7=127.0.0.1:2]\n'),
        /virtual port 7 is exposed twice/,
      ],
      ['dup-forward.yaml', node(`  forward: [${forward}=a:1, ${forward}=b:1]\n`), /is forwarded twice/],
      [
        'node-pw.yaml',
        `password-file: ${join(dir, 'gone.pw')}\nnode:\n  domain: alice\n`,
        /cannot read the password file/,
      ],
      [
        'node-ca.yaml',
        node(`  switcher: tls://127.0.0.1:${sw}\n  ca: ${pw}\n`),
        /the CA file .* holds no certificate/,
      ],
      // A CA for a tcp:// switcher, whose connection is plain text: it was ignored without a word.
      [
        'node-ca-tcp.yaml',
        node(`  ca: ${certA.certFile}\n`),
        /--ca \(or FLEXMUX_CA, or ca: in the config file\) is for tls:\/\/ and wss:\/\/ switchers only/,
      ],
      ['node-url.yaml', node('  switcher: udp://127.0.0.1:1\n'), /unsupported switcher URL scheme/],
    ];
    for (const [name, text, message] of cases) {
      const r2 = await checkAndStart(['node', '--config', file(name, text)]);
      expect({ name, code: r2.code }).toEqual({ name, code: 2 });
      expect(r2.stderr).toMatch(message);
      expect(r2.startCode).toBe(2);
      expect(r2.stderr).toBe(r2.startStderr);
    }
    expect(await bindable(forward)).toBe(true);
  });

  it('node: takes --bind [::1] as the start binds it, and refuses a host the start could not', async () => {
    const forward = await freePort();
    const args = [
      'node',
      '-d',
      'alice',
      '-s',
      'tcp://127.0.0.1:1',
      '-f',
      `${forward}=bob:22`,
      '--check-config',
    ];
    const env = { FLEXMUX_PASSWORD: 'p' };
    const r = await runCliToEnd([...args, '--bind', '[::1]'], { env });
    expect(r.stdout).toBe(
      `configuration OK: node alice on tcp://127.0.0.1:1; forward [::1]:${forward}=bob:22\n`,
    );
    expect(r.code).toBe(0);
    const bad = await runCliToEnd([...args, '--bind', '192.168.001.010'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid host "192.168.001.010": write an IPv4 address in decimal');
  });

  // Its verdict went to a stdout that failed, and the check exited 0 all the same: the write's
  // error came after the process had ended.
  it('a stdout that fails (a full disk): exit 13, stdout named, not 0', async () => {
    const full = await open('/dev/full', 'w');
    let check: CliChild;
    try {
      check = runCli(['switcher', '--tcp', '127.0.0.1:0', '--check-config'], {
        env: { FLEXMUX_PASSWORD: 'p' },
        stdout: full.fd,
      });
    } finally {
      await full.close();
    }
    expect(await check.exited, check.stderr).toBe(13);
    expect(check.stderr).toMatch(
      /^flexmux switcher: stdout failed after the check passed, before saying so: ENOSPC: .*\[CLI_IO\]$/m,
    );
  });

  it('is not a config-file setting', async () => {
    const r = await runCliToEnd(['switcher', '--config', file('cc.yaml', 'check-config: true\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown setting "check-config"');
  });
});
