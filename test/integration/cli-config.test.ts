import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, killAll, runCli, runCliToEnd, startSwitcher, waitForPort } from '../helpers/cli.js';

/** Settings from a YAML config file and from FLEXMUX_* variables, and which source wins. */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-'));
});
afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('config file', () => {
  it('sets listeners, the password file, limits and access rules; sections per command', async () => {
    const pw = file('shared.pw', 'shared-secret\n');
    const config = file(
      'flexmux.yaml',
      `
# top level: every command that has the flag
password-file: ${pw}
switcher:
  tcp: 127.0.0.1:0
  ws: ["127.0.0.1:0/custom"]
  max-clients: 8
  access:
    passwords:
      - password: team-secret
        domains: [team-*]
    dial:
      - from: team-*
        to: [db]
node:
  domain: db
`,
    );
    const sw = await startSwitcher(['--config', config], {});
    expect(sw.urls).toHaveLength(2);
    expect(sw.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/custom$/);
    expect(sw.child.stderr).not.toContain('password for this run');

    // The node takes its domain from the node section and the password file from the top level.
    const node = runCli(['node', '--config', config, '-s', sw.tcp], {});
    await node.waitForLog('session ready', (l) => l.domain === 'db');

    const team = { FLEXMUX_PASSWORD: 'team-secret' };
    const [teamPing, wrongDomain, teamDial, guestDial] = await Promise.all([
      runCliToEnd(['ping', 'db', '-s', sw.tcp, '-d', 'team-a', '-c', '1'], { env: team }),
      runCliToEnd(['ping', '-s', sw.tcp, '-d', 'guest', '-c', '1'], { env: team }),
      runCliToEnd(['dial', 'db:9', '-s', sw.tcp, '-d', 'team-b'], { env: team, input: '' }),
      runCliToEnd(['dial', 'db:9', '-s', sw.tcp, '-d', 'guest', '--config', config], { input: '' }),
    ]);
    expect(teamPing.code).toBe(0);
    // The team password may only register team-* domains.
    expect(wrongDomain.code).toBe(3);
    // team-* may dial db (nobody listens on port 9); guest may not dial at all.
    expect(teamDial.code).toBe(4);
    expect(teamDial.stderr).toContain('listener not found');
    expect(guestDial.code).toBe(4);
    expect(guestDial.stderr).toContain('dial not allowed');
  });

  it('flags win over env vars, which win over the file', async () => {
    const config = file('lists.yaml', 'switcher:\n  tcp: [127.0.0.1:0, 127.0.0.1:0]\n');
    const pw = { FLEXMUX_PASSWORD: 'x' };
    const env = { ...pw, FLEXMUX_TCP: '127.0.0.1:0,127.0.0.1:0,127.0.0.1:0' };
    const [fromFile, fromEnv, fromFlag] = await Promise.all([
      startSwitcher(['--config', config], pw),
      startSwitcher(['--config', config], env),
      startSwitcher(['--config', config, '--tcp', '127.0.0.1:0'], env),
    ]);
    expect(fromFile.urls).toHaveLength(2);
    expect(fromEnv.urls).toHaveLength(3);
    expect(fromFlag.urls).toHaveLength(1);
  });

  it('the log level from the file applies; a flag overrides it', async () => {
    const config = file('quiet.yaml', 'log-level: error\n');
    const pw = { FLEXMUX_PASSWORD: 'x' };
    const port = await freePort();
    const quiet = runCli(['switcher', '--config', config, '--tcp', `127.0.0.1:${port}`], { env: pw });
    await waitForPort(port);
    quiet.proc.kill('SIGTERM');
    expect(await quiet.exited).toBe(0);
    expect(quiet.logs).toEqual([]);
    const loud = await startSwitcher(['--config', config, '--tcp', '127.0.0.1:0', '--log-level', 'info'], pw);
    expect(loud.child.logs.some((l) => l.msg === 'listening')).toBe(true);
  });

  it.each([
    ['unknown: 1\n', 'unknown setting "unknown"'],
    ['switcher:\n  tcpp: 127.0.0.1:0\n', 'unknown setting "switcher.tcpp"'],
    ['switcher:\n  tcp: nope\n', 'switcher.tcp: "nope" is invalid: expected HOST:PORT'],
    ['switcher:\n  max-clients: [1, 2]\n', 'switcher.max-clients takes one value, not a list'],
    // (`switcher: URL` at the top level is node, dial and ping's --switcher: the switcher ignores it.)
    ['node: [a]\n', '"node" must be a mapping'],
    ['switcher:\n  access:\n    dial: [{from: "a b", to: x}]\n', 'may hold only a-z 0-9 _ - * ?'],
    ['switcher: [unclosed\n', 'is not valid YAML'],
  ])('a bad file exits 2: %j', async (text, message) => {
    const config = file('bad.yaml', text);
    const r = await runCliToEnd(['switcher', '--config', config, '--tcp', '127.0.0.1:0'], {
      env: { FLEXMUX_PASSWORD: 'x' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('FLEXMUX_CONFIG names the file', async () => {
    const config = file('env.yaml', 'switcher:\n  ws: 127.0.0.1:0/from-env\n');
    const sw = await startSwitcher([], { FLEXMUX_PASSWORD: 'x', FLEXMUX_CONFIG: config });
    expect(sw.urls).toEqual([expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/from-env$/)]);
  });
});

describe('environment variables', () => {
  it('every flag has a FLEXMUX_ variable; lists are comma-separated', async () => {
    const sw = await startSwitcher([], {
      FLEXMUX_PASSWORD: 'env-secret',
      FLEXMUX_TCP: '127.0.0.1:0,127.0.0.1:0',
      FLEXMUX_WS: '127.0.0.1:0',
    });
    expect(sw.urls.filter((u) => u.startsWith('tcp:'))).toHaveLength(2);
    const r = await runCliToEnd(['ping', '-c', '1'], {
      env: { FLEXMUX_PASSWORD: 'env-secret', FLEXMUX_SWITCHER: sw.ws },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`PING switcher via ${sw.ws}`);
  });

  it('the password can come from a file named by FLEXMUX_PASSWORD_FILE', async () => {
    const pw = file('node.pw', 'file-secret\n');
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], { FLEXMUX_PASSWORD_FILE: pw });
    const r = await runCliToEnd(['ping', '-c', '1', '-s', sw.tcp], { env: { FLEXMUX_PASSWORD_FILE: pw } });
    expect(r.code).toBe(0);
  });

  it('FLEXMUX_PASSWORD with a trailing line ending is the password without it, as a file is, with a warning', async () => {
    // A Kubernetes secret or an env-file carries the newline into the variable. Kept, it made the
    // switcher's password or the client's one with a "\n" more: a wrong-password refusal.
    const pw = file('k8s.pw', 'k8s-secret\n');
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], { FLEXMUX_PASSWORD: 'k8s-secret\n' });
    const said = sw.child.logs.find((l) => l.env === 'FLEXMUX_PASSWORD');
    expect(said?.level).toBe(40);
    expect(said?.dropped).toBe('a trailing line ending (LF)');
    const viaFile = await runCliToEnd(['ping', '-c', '1', '-s', sw.tcp], {
      env: { FLEXMUX_PASSWORD_FILE: pw },
    });
    expect(viaFile.code).toBe(0);
    const r = await runCliToEnd(['ping', '-c', '1', '-s', sw.tcp], {
      env: { FLEXMUX_PASSWORD: 'k8s-secret\r\n' },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"dropped":"a trailing line ending (CRLF)"');
    expect(sw.child.stderr + r.stderr).not.toContain('k8s-secret');
    // Only a line ending: refused (exit 2), not taken for none (a generated password, a
    // "no password" of another cause).
    const blank = await runCliToEnd(['ping', '-c', '1', '-s', sw.tcp], { env: { FLEXMUX_PASSWORD: '\n' } });
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain('FLEXMUX_PASSWORD (the password) is empty');
  });

  it('an empty variable counts as unset, as an empty FLEXMUX_PASSWORD does', async () => {
    // Each was taken as a value: a config file and a password file named "" (ENOENT, exit 2, no
    // word of the variable), an invalid switcher URL, an invalid duration.
    const empty = { FLEXMUX_CONFIG: '', FLEXMUX_PASSWORD_FILE: '', FLEXMUX_CONNECT_TIMEOUT: '' };
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], {
      ...empty,
      FLEXMUX_PASSWORD: 'env-secret',
      FLEXMUX_LOG_LEVEL: '',
    });
    // FLEXMUX_SWITCHER= leaves the config file's switcher: in force.
    const config = file('empty-env.yaml', `ping:\n  switcher: ${sw.tcp}\n`);
    const r = await runCliToEnd(['ping', '-c', '1', '--config', config], {
      env: { ...empty, FLEXMUX_PASSWORD: 'env-secret', FLEXMUX_SWITCHER: '' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`PING switcher via ${sw.tcp}`);
  });
});
