import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { certA, certB, servedFingerprint } from '../helpers/certs.js';
import { type CliChild, killAll, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';
import { parseMetrics } from './admin-fixture.js';
import { request } from './admin-http.js';

/**
 * `flexmux switcher` reloads on SIGHUP, end to end: the process reads its --cert/--key and
 * --password-file again and says so in one log line, which the test waits on.
 */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const dirs: string[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A TCP service answering each piece it reads with `name:` and the piece, closed after the test. */
async function tagServer(name: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('data', (c: Buffer) => socket.write(`${name}:${c}`));
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Sends `text` to 127.0.0.1:`port` and resolves with a tagServer's answer to it. */
function tagged(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += String(c);
      if (got.length < text.length + 4) return;
      socket.destroy();
      resolve(got);
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

/** Scrapes the /metrics of the admin server `child` started (its 'admin API listening' line). */
function metricsOf(child: CliChild): () => Promise<Map<string, number>> {
  return async () => {
    const { url } = await child.waitForLog('admin API listening');
    const r = await request(String(url), '/metrics');
    expect(r.status).toBe(200);
    return parseMetrics(r.text);
  };
}

describe.skipIf(process.platform === 'win32')('flexmux switcher on SIGHUP', () => {
  it('serves the new certificate and admits with the new password; a bad pair keeps it running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const cert = join(dir, 'fullchain.pem');
    const key = join(dir, 'privkey.pem');
    const password = join(dir, 'password');
    copyFileSync(certA.certFile, cert);
    copyFileSync(certA.keyFile, key);
    writeFileSync(password, 'password-one\n');
    const sw = await startSwitcher(
      ['--tls', '127.0.0.1:0', '--cert', cert, '--key', key, '--password-file', password],
      {},
    );
    const tls = sw.urls.find((u) => u.startsWith('tls:')) ?? '';
    const port = Number(new URL(tls).port);
    expect(await servedFingerprint(port)).toBe(certA.fingerprint);

    copyFileSync(certB.certFile, cert);
    copyFileSync(certB.keyFile, key);
    writeFileSync(password, 'password-two\n');
    sw.child.proc.kill('SIGHUP');
    const line = await sw.child.waitForLog('reloaded');
    expect(line).toMatchObject({ changed: ['certificate', 'password'], failed: [], notReloaded: [] });
    expect(await servedFingerprint(port)).toBe(certB.fingerprint);
    const ping = (pw: string) =>
      runCliToEnd(['ping', '-s', tls, '--ca', certB.certFile, '-c', '1'], {
        env: { FLEXMUX_PASSWORD: pw },
      });
    expect((await ping('password-two')).code).toBe(0);
    expect((await ping('password-one')).code).toBe(3);

    // The old key with the new certificate: an error line naming the files, and the process
    // keeps serving what it served.
    copyFileSync(certA.keyFile, key);
    sw.child.proc.kill('SIGHUP');
    const failed = await sw.child.waitForLog('reloaded, with failures');
    expect(failed).toMatchObject({ failed: ['certificate'] });
    const error = sw.child.logs.find((l) => l.msg.startsWith('reload: kept the old certificate'));
    expect(error).toMatchObject({ level: 50, files: [cert, key] });
    expect(await servedFingerprint(port)).toBe(certB.fingerprint);
    expect(sw.child.proc.exitCode).toBe(null);
    expect(sw.child.stderr).not.toContain('password-two');
  });

  it('flexmux node reads its password file again, for its next admission', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const password = join(dir, 'password');
    writeFileSync(password, 'password-one\n');
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], { FLEXMUX_PASSWORD: 'password-one' });
    const node = runCli(['node', '-s', sw.tcp, '-d', 'alice', '--password-file', password], { env: {} });
    await node.waitForLog('session ready');
    writeFileSync(password, 'password-two\n');
    node.proc.kill('SIGHUP');
    const line = await node.waitForLog('reloaded');
    expect(line).toMatchObject({ changed: ['password'], failed: [] });
    expect(node.proc.exitCode).toBe(null);
    expect(node.stderr).not.toContain('password-two');
  });

  it('shows its certificate expiry and counts its reloads on the admin server’s /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const cert = join(dir, 'fullchain.pem');
    const key = join(dir, 'privkey.pem');
    copyFileSync(certA.certFile, cert);
    copyFileSync(certA.keyFile, key);
    const sw = await startSwitcher(
      [
        '--tls',
        '127.0.0.1:0',
        '--wss',
        '127.0.0.1:0',
        '--cert',
        cert,
        '--key',
        key,
        '--admin',
        '127.0.0.1:0',
      ],
      { FLEXMUX_PASSWORD: 'password-one' },
    );
    const scrape = metricsOf(sw.child);
    const expiry = (file: string) => Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;
    const EXPIRY = 'flexmux_tls_certificate_expiry_timestamp_seconds';
    let m = await scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiry(certA.certFile));
    expect(m.get(`${EXPIRY}{kind="wss"}`)).toBe(expiry(certA.certFile));
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(0);
    const started = m.get('flexmux_reload_last_success_timestamp_seconds') ?? 0;
    expect(started).toBeGreaterThan(0);

    copyFileSync(certB.certFile, cert);
    copyFileSync(certB.keyFile, key);
    sw.child.proc.kill('SIGHUP');
    await sw.child.waitForLog('reloaded');
    m = await scrape();
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiry(certB.certFile));
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(1);
    expect(m.get('flexmux_reloads_total{result="failed"}')).toBe(0);
    expect(m.get('flexmux_reload_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(started);

    copyFileSync(certA.keyFile, key); // a mismatched pair
    sw.child.proc.kill('SIGHUP');
    await sw.child.waitForLog('reloaded, with failures');
    m = await scrape();
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(1);
    expect(m.get('flexmux_reloads_total{result="failed"}')).toBe(1);
    expect(m.get(`${EXPIRY}{kind="tls"}`)).toBe(expiry(certB.certFile));
    // Far from their end, neither certificate was warned about.
    expect(sw.child.logs.filter((l) => l.msg.startsWith('the certificate served'))).toEqual([]);
  });

  it('flexmux node serves the expose and forward rules of its config file as they are now', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const one = await tagServer('one');
    const two = await tagServer('two');
    const config = join(dir, 'flexmux.yaml');
    writeFileSync(config, `node:\n  expose: ["7=127.0.0.1:${one}"]\n`);
    const env = { FLEXMUX_PASSWORD: 'password-one' };
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], env);
    const node = runCli(['node', '-s', sw.tcp, '-d', 'alice', '--config', config], { env });
    await node.waitForLog('session ready');

    writeFileSync(config, `node:\n  expose: ["8=127.0.0.1:${two}"]\n  forward: ["0=alice:8"]\n`);
    node.proc.kill('SIGHUP');
    const line = await node.waitForLog('reloaded');
    expect(line).toMatchObject({
      changed: ['expose and forward rules'],
      failed: [],
      notReloaded: ['password (from FLEXMUX_PASSWORD)'],
    });
    expect(node.logs.find((l) => l.msg === 'stopped exposing')).toMatchObject({ port: 7 });
    // The new forward port, through the switcher to the new virtual port, to the second service.
    const { listen } = await node.waitForLog('forwarding', (l) => l.target === 'alice:8');
    const port = Number(String(listen).split(':').at(-1));
    expect(await tagged(port, 'hello')).toBe('two:hello');
    expect(node.proc.exitCode).toBe(null);
  });

  it('flexmux node counts its reloads on its admin server’s /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const password = join(dir, 'password');
    writeFileSync(password, 'password-one\n');
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], { FLEXMUX_PASSWORD: 'password-one' });
    const node = runCli(
      ['node', '-s', sw.tcp, '-d', 'alice', '--password-file', password, '--admin', '127.0.0.1:0'],
      { env: {} },
    );
    await node.waitForLog('session ready');
    const scrape = metricsOf(node);
    expect((await scrape()).get('flexmux_reloads_total{result="failed"}')).toBe(0);
    // No certificate of its own: no expiry series.
    expect([...(await scrape()).keys()].some((k) => k.startsWith('flexmux_tls_'))).toBe(false);

    writeFileSync(password, ''); // an empty password file fails the reload
    node.proc.kill('SIGHUP');
    await node.waitForLog('reloaded, with failures');
    let m = await scrape();
    expect(m.get('flexmux_reloads_total{result="failed"}')).toBe(1);
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(0);

    writeFileSync(password, 'password-two\n');
    node.proc.kill('SIGHUP');
    await node.waitForLog('reloaded');
    m = await scrape();
    expect(m.get('flexmux_reloads_total{result="failed"}')).toBe(1);
    expect(m.get('flexmux_reloads_total{result="ok"}')).toBe(1);
  });

  it('ends a reload before it closes; a SIGHUP while it stops or exits does not end it (129)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const password = join(dir, 'password');
    writeFileSync(password, 'password-one\n');
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0', '--password-file', password], {});
    writeFileSync(password, 'password-two\n');
    let exited = false;
    const code = sw.child.exited.then((c) => {
      exited = true;
      return c;
    });
    sw.child.proc.kill('SIGHUP');
    sw.child.proc.kill('SIGTERM');
    // SIGHUP after SIGHUP, until the process is gone: some land while it stops, some after the
    // command has returned and the process is on its way out.
    while (!exited) {
      sw.child.proc.kill('SIGHUP');
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await code).toBe(0);
    const msgs = sw.child.logs.map((l) => l.msg);
    const closed = msgs.indexOf('switcher closed');
    expect(closed).toBeGreaterThan(-1);
    // A reload that ran ended before the switcher closed; none started after.
    expect(msgs.slice(closed).filter((m) => m.startsWith('reload'))).toEqual([]);
  });

  it("reads the config file's switcher.access section again: a new team password admits, the old no longer", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const config = join(dir, 'flexmux.yaml');
    const withTeam = (pw: string): string =>
      `switcher:\n  tcp: 127.0.0.1:0\n  access:\n    passwords:\n      - password: ${pw}\n        domains: [team-*]\n`;
    writeFileSync(config, withTeam('team-one'));
    const sw = await startSwitcher(['--config', config], { FLEXMUX_PASSWORD: 'pw-shared' });
    const ping = (pw: string) =>
      runCliToEnd(['ping', '-s', sw.tcp, '-d', 'team-a', '-c', '1'], { env: { FLEXMUX_PASSWORD: pw } });
    expect((await ping('team-one')).code).toBe(0);

    writeFileSync(config, withTeam('team-two'));
    sw.child.proc.kill('SIGHUP');
    const line = await sw.child.waitForLog('reloaded');
    expect(line).toMatchObject({ changed: ['access rules'], failed: [] });
    expect((await ping('team-two')).code).toBe(0);
    expect((await ping('team-one')).code).toBe(3);

    writeFileSync(config, 'switcher:\n  access:\n    passwords: team-three\n');
    sw.child.proc.kill('SIGHUP');
    // The start check fails too: a restart would refuse the same section.
    expect(await sw.child.waitForLog('reloaded, with failures')).toMatchObject({
      failed: ['access rules', 'config file'],
    });
    const error = sw.child.logs.find((l) => l.msg.startsWith('reload: kept the old access rules'));
    expect(error).toMatchObject({ level: 50, files: [config] });
    expect(String(error?.err)).toMatch(/access.passwords must be a list/);
    expect((await ping('team-two')).code).toBe(0);
    expect(sw.child.stderr).not.toMatch(/team-(one|two|three)|pw-shared/);
  });

  it('says which extra passwords and dial rules a reload of the access section changed, not the passwords', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const config = join(dir, 'flexmux.yaml');
    const access = (domains: string, dial: string): string =>
      `switcher:\n  tcp: 127.0.0.1:0\n  access:\n    passwords:\n      - password: team-secret\n        domains: ${domains}\n${dial}`;
    writeFileSync(config, access('[team-*]', ''));
    const sw = await startSwitcher(['--config', config], { FLEXMUX_PASSWORD: 'pw-shared' });
    writeFileSync(config, access('[team-*, lab-*]', '    dial:\n      - { from: [team-*], to: [db] }\n'));
    const mark = sw.child.logs.length;
    sw.child.proc.kill('SIGHUP');
    const line = await sw.child.nextLog('access rules replaced', { after: mark });
    expect(line).toMatchObject({
      dialRules: { before: 'open', after: 1 },
      added: ['team-* -> db'],
      passwords: {
        before: 1,
        after: 1,
        removed: [],
        added: [],
        domainsChanged: [{ index: 0, domains: ['team-*', 'lab-*'], was: ['team-*'] }],
      },
    });
    expect(sw.child.stderr).not.toMatch(/team-secret|pw-shared/);
  });

  it('keeps the access rules when it finds the config file empty (caught mid-write)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const config = join(dir, 'flexmux.yaml');
    writeFileSync(
      config,
      'switcher:\n  tcp: 127.0.0.1:0\n  access:\n    dial:\n      - { from: [web], to: [db] }\n',
    );
    const sw = await startSwitcher(['--config', config], { FLEXMUX_PASSWORD: 'pw-shared' });
    // Truncated by a writer that has not written yet (`>` in a shell, an editor saving in place):
    // taken as a file without an access section, it let every node dial every other.
    writeFileSync(config, '');
    const mark = sw.child.logs.length;
    sw.child.proc.kill('SIGHUP');
    const line = await sw.child.nextLog('reloaded, with failures', { after: mark });
    expect(line).toMatchObject({ changed: [], failed: ['access rules', 'config file'] });
    expect(sw.child.logs.slice(mark).map((l) => l.msg)).not.toContain('access rules replaced');
    const kept = sw.child.logs.find((l) => l.msg.startsWith('reload: kept the old access rules'));
    expect(String(kept?.err)).toMatch(/holds no settings \(empty, or comments only\)/);
  });

  it('says when the rest of the config file would not start the switcher, keeping the access rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const config = join(dir, 'flexmux.yaml');
    const text = (pw: string, more = ''): string =>
      `switcher:\n  tcp: 127.0.0.1:0\n${more}  access:\n    passwords:\n      - password: ${pw}\n        domains: [team-*]\n`;
    writeFileSync(config, text('team-one'));
    const sw = await startSwitcher(['--config', config], { FLEXMUX_PASSWORD: 'pw-shared' });
    const wouldNotStart = (l: { msg: string }): boolean =>
      l.msg.startsWith('reload: the config file would not start the command');

    // A section the reload does not read: a valid file says nothing more than before.
    writeFileSync(config, text('team-two', '  max-clients: 50\n'));
    sw.child.proc.kill('SIGHUP');
    expect(await sw.child.waitForLog('reloaded')).toMatchObject({ changed: ['access rules'], failed: [] });
    expect(sw.child.logs.filter(wouldNotStart)).toEqual([]);

    // A bad value there, and an unknown setting: a file a start refuses (caught mid-edit) keeps
    // the access rules in use, as it keeps a node's rules, and the warning names what a restart
    // would fail with.
    writeFileSync(config, text('team-three', '  max-clients: lots\n'));
    sw.child.proc.kill('SIGHUP');
    const line = await sw.child.waitForLog('reloaded, with failures');
    expect(line).toMatchObject({ changed: [], failed: ['access rules', 'config file'] });
    const warn = sw.child.logs.find(wouldNotStart);
    expect(warn).toMatchObject({ level: 40, files: [config], code: 'FLEX_ERR_CONFIG' });
    expect(warn?.msg).toMatch(/switcher\.max-clients: "lots" is invalid.*\[FLEX_ERR_CONFIG\]$/);
    const kept = sw.child.logs.find((l) => l.msg.startsWith('reload: kept the old access rules'));
    expect(String(kept?.err)).toMatch(/switcher\.max-clients: "lots" is invalid/);
    const ping = (pw: string) =>
      runCliToEnd(['ping', '-s', sw.tcp, '-d', 'team-a', '-c', '1'], { env: { FLEXMUX_PASSWORD: pw } });
    expect((await ping('team-three')).code).toBe(3);
    expect((await ping('team-two')).code).toBe(0);

    writeFileSync(config, text('team-three', '  max-clientz: 5\n'));
    sw.child.proc.kill('SIGHUP');
    // The second `reloaded, with failures`: waitForLog would return the first one.
    expect(await sw.child.nextLog('reloaded, with failures')).toMatchObject({
      failed: ['access rules', 'config file'],
    });
    expect(sw.child.logs.filter(wouldNotStart).at(-1)?.msg).toContain(
      'unknown setting "switcher.max-clientz"',
    );
    expect((await ping('team-two')).code).toBe(0);
    expect(sw.child.proc.exitCode).toBe(null);
    expect(sw.child.stderr).not.toMatch(/team-(one|two|three)|pw-shared/);
  });

  it('says when the rest of the config file would not start the node, applying its rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const env = { FLEXMUX_PASSWORD: 'pw' };
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], env);
    const config = join(dir, 'flexmux.yaml');
    writeFileSync(config, 'node:\n  expose: ["7=127.0.0.1:1"]\n');
    const node = runCli(['node', '-s', sw.tcp, '-d', 'alice', '--config', config], { env });
    await node.waitForLog('session ready');
    // The password file it names is not there: a restart would exit 2 before connecting.
    const missing = join(dir, 'nowhere.pw');
    writeFileSync(config, `password-file: ${missing}\nnode:\n  expose: ["8=127.0.0.1:1"]\n`);
    node.proc.kill('SIGHUP');
    const line = await node.waitForLog('reloaded, with failures');
    expect(line).toMatchObject({ changed: ['expose and forward rules'], failed: ['config file'] });
    const warn = node.logs.find((l) => l.msg.startsWith('reload: the config file would not start'));
    expect(warn).toMatchObject({ level: 40, files: [config] });
    expect(warn?.msg).toContain(`cannot read the password file ${missing}`);
    await node.waitForLog('exposing', (l) => l.port === 8);

    writeFileSync(config, 'node:\n  expose: ["9=127.0.0.1:1"]\n');
    node.proc.kill('SIGHUP');
    await node.waitForLog('reloaded', (l) => (l.failed as string[]).length === 0);
    expect(node.logs.filter((l) => l.msg.startsWith('reload: the config file'))).toHaveLength(1);
    expect(node.proc.exitCode).toBe(null);
  });

  it('names the settings of the config file that a reload leaves for a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cli-reload-'));
    dirs.push(dir);
    const env = { FLEXMUX_PASSWORD: 'pw' };
    const config = join(dir, 'flexmux.yaml');
    const text = (more: string, node = '  expose: ["7=127.0.0.1:1"]\n'): string =>
      `switcher:\n  tcp: 127.0.0.1:0\n${more}node:\n${node}`;
    writeFileSync(config, text('  max-clients: 10\n'));
    const sw = await startSwitcher(['--config', config], env);
    const node = runCli(['node', '-s', sw.tcp, '-d', 'alice', '--config', config], { env });
    await node.waitForLog('session ready');
    const leftForRestart = (l: { msg: string }): boolean => l.msg.includes('a reload does not apply');

    // Nothing changed: nothing to say, for either command.
    sw.child.proc.kill('SIGHUP');
    node.proc.kill('SIGHUP');
    expect(await sw.child.waitForLog('reloaded')).toMatchObject({ failed: [], needsRestart: [] });
    expect(await node.waitForLog('reloaded')).toMatchObject({ failed: [], needsRestart: [] });

    // New limits for the switcher, a new dial timeout and a new port for the node: the switcher
    // applies none of them, the node its exposes only, and a warning says which wait.
    writeFileSync(
      config,
      text('  max-clients: 20\n  idle-timeout: 1m\n', '  dial-timeout: 3s\n  expose: ["8=127.0.0.1:1"]\n'),
    );
    // Counted before the signals: the node's line may come in while the switcher's is awaited.
    const nodeAfter = node.logs.length;
    sw.child.proc.kill('SIGHUP');
    node.proc.kill('SIGHUP');
    const swLine = await sw.child.nextLog('reloaded');
    expect(swLine).toMatchObject({ failed: [], needsRestart: ['max-clients', 'idle-timeout'] });
    const swWarn = sw.child.logs.find(leftForRestart);
    expect(swWarn).toMatchObject({
      level: 40,
      files: [config],
      needsRestart: ['max-clients', 'idle-timeout'],
    });
    expect(swWarn?.msg).toContain('reload: the config file changes max-clients, idle-timeout');
    const nodeLine = await node.nextLog('reloaded', { after: nodeAfter });
    expect(nodeLine).toMatchObject({ changed: ['expose and forward rules'], needsRestart: ['dial-timeout'] });
    expect(node.logs.filter(leftForRestart)).toHaveLength(1);
    expect(sw.child.proc.exitCode).toBe(null);
    expect(node.proc.exitCode).toBe(null);
  });

  it('says so in switcher --help', async () => {
    const r = await runCliToEnd(['switcher', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      'On SIGHUP (not on Windows) it reads --cert and --key, --password-file',
    );
  });

  it('says so in node --help', async () => {
    const r = await runCliToEnd(['node', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('and the expose and forward lists of --config');
  });
});
