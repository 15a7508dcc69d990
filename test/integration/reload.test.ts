import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { accessFromConfig, accessReload } from '../../src/cli/access.js';
import { startCliAdmin } from '../../src/cli/admin-server.js';
import { checkAgain } from '../../src/cli/check-again.js';
import { loadConfigFile } from '../../src/cli/config-file.js';
import { nodeReloadPlan } from '../../src/cli/node-reload.js';
import type { ConnectOpts } from '../../src/cli/options.js';
import { buildProgram } from '../../src/cli/program.js';
import { type ReloadPlan, reloadAll } from '../../src/cli/reload.js';
import { openSession } from '../../src/cli/session.js';
import { type ReloadSources, type SwitcherOpts, switcherReloadPlan } from '../../src/cli/switcher.js';
import { connect } from '../../src/connect.js';
import { startEchoNode } from '../../src/demo/echo.js';
import { AdmissionError } from '../../src/errors.js';
import type { FlexStream, Session } from '../../src/index.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp, listenTls } from '../../src/switcher-node.js';
import { silentLogger } from '../../src/util/logger.js';
import { certA, certB, servedFingerprint } from '../helpers/certs.js';
import { captureLogger } from '../helpers/faulty-log.js';
import { once, readAll } from '../helpers/streams.js';
import { tlsSwitcherWithFiles } from '../helpers/tls-switcher-files.js';
import { request } from './admin-http.js';

/**
 * The switcher command's reload (src/cli/reload.ts), called as SIGHUP calls it, on a switcher
 * set up as `flexmux switcher --tls --wss --cert --key --password-file --admin
 * --admin-token-file` sets it up: the files change, the reload applies them, connections stay.
 */

const HOST = '127.0.0.1';

/** The switcher command as the program builds it (its siblings read a shared config file). */
const switcherCmd = () => buildProgram(() => {}).commands.find((c) => c.name() === 'switcher') as Command;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Setup {
  dir: string;
  files: { cert: string; key: string; password: string; token: string };
  switcher: Switcher;
  tls: string;
  wss: string;
  admin: string;
  reload: () => ReturnType<typeof reloadAll>;
  logger: ReturnType<typeof captureLogger>;
}

async function setup(): Promise<Setup> {
  const { dir, files, switcher, listeners, pem } = await tlsSwitcherWithFiles(
    HOST,
    cleanup,
    'flexmux-reload-',
  );
  const server = await startCliAdmin({ switcher }, { host: HOST, port: 0 }, 'token-one', silentLogger);
  cleanup.push(() => server.close());
  const o: SwitcherOpts = {
    cert: files.cert,
    key: files.key,
    passwordFile: files.password,
    admin: { host: HOST, port: 0 },
    adminTokenFile: files.token,
  } as SwitcherOpts;
  const sources: ReloadSources = {
    password: 'password-one',
    generated: false,
    admin: { token: 'token-one', setToken: (t) => server.setToken(t) },
    listeners,
    pem,
    command: switcherCmd(),
  };
  const plan = switcherReloadPlan(o, switcher, sources);
  const logger = captureLogger();
  const url = (scheme: string) => listeners.find((l) => l.url.startsWith(`${scheme}:`))?.url ?? '';
  return {
    dir,
    files,
    switcher,
    tls: url('tls'),
    wss: url('wss'),
    admin: server.url,
    reload: () => reloadAll(plan, logger),
    logger,
  };
}

function port(url: string): number {
  return Number(new URL(url).port);
}

/** A node on `url` trusting `ca`, admitted with `password` (no retries: a refusal is final). */
async function nodeOn(
  url: string,
  domain: string,
  password: string,
  ca: Buffer,
): Promise<Session<FlexStream>> {
  const s = connect(url, { password, domain, tls: { ca }, reconnect: false });
  cleanup.push(() => s.close());
  await s.ready({ timeout: 5_000 });
  return s;
}

/** Serves an echo on port 7 of `s`. */
function echo(s: Session<FlexStream>): void {
  s.listen(7).on('stream', (st: FlexStream) => st.pipe(st));
}

async function echoes(from: Session<FlexStream>, to: string, text: string): Promise<string> {
  const st = await from.dial(`${to}:7`, { timeout: 5_000 });
  st.end(text);
  return (await readAll(st)).toString();
}

describe('reloading the switcher command (SIGHUP)', () => {
  it('serves the new certificate to new connections; nodes connected before stay and dial', async () => {
    const t = await setup();
    const bob = await nodeOn(t.tls, 'bob', 'password-one', certA.cert);
    echo(bob);
    const alice = await nodeOn(t.wss, 'alice', 'password-one', certA.cert);
    expect(await servedFingerprint(port(t.tls))).toBe(certA.fingerprint);
    expect(await servedFingerprint(port(t.wss))).toBe(certA.fingerprint);

    copyFileSync(certB.certFile, t.files.cert);
    copyFileSync(certB.keyFile, t.files.key);
    expect(await t.reload()).toEqual({
      changed: ['certificate'],
      unchanged: ['password', 'admin token'],
      failed: [],
    });
    expect(t.logger.find('reloaded', {})).toHaveLength(1);
    expect(t.logger.find('reloaded')[0]?.fields).toMatchObject({ changed: ['certificate'], notReloaded: [] });

    expect(await servedFingerprint(port(t.tls))).toBe(certB.fingerprint);
    expect(await servedFingerprint(port(t.wss))).toBe(certB.fingerprint);
    // A node trusting only B gets in now; the two from before are still admitted and relaying.
    const carol = await nodeOn(t.tls, 'carol', 'password-one', certB.cert);
    expect(t.switcher.clients().map((c) => c.domain)).toEqual(['bob', 'alice', 'carol']);
    expect(await echoes(alice, 'bob', 'across the reload')).toBe('across the reload');
    expect(await echoes(carol, 'bob', 'after it')).toBe('after it');
    expect(bob.connections).toBe(1);
    expect(alice.connections).toBe(1);
    // Nothing changed since: said so, and nothing applied.
    expect((await t.reload()).unchanged).toContain('certificate');
  });

  it('keeps the old certificate when the new key does not match it, and says why', async () => {
    const t = await setup();
    const bob = await nodeOn(t.tls, 'bob', 'password-one', certA.cert);
    echo(bob);
    copyFileSync(certB.certFile, t.files.cert); // the new certificate, the old key
    const result = await t.reload();
    expect(result.failed).toEqual(['certificate']);
    const [error] = t.logger.find(/^reload: kept the old certificate/);
    expect(error?.level).toBe('error');
    expect(error?.fields).toMatchObject({ files: [t.files.cert, t.files.key] });
    expect(String(error?.fields.err)).toMatch(/key values mismatch/);
    expect(t.logger.find('reloaded, with failures')).toHaveLength(1);

    expect(await servedFingerprint(port(t.tls))).toBe(certA.fingerprint);
    expect(await servedFingerprint(port(t.wss))).toBe(certA.fingerprint);
    const alice = await nodeOn(t.wss, 'alice', 'password-one', certA.cert);
    expect(await echoes(alice, 'bob', 'still served')).toBe('still served');

    // A file that cannot be read is the same: the old pair stays.
    rmSync(t.files.key);
    expect((await t.reload()).failed).toEqual(['certificate']);
    // The runtime's code says why (before: only inside `err`'s text).
    expect(t.logger.find(/^reload: kept the old certificate/).at(-1)?.fields).toMatchObject({
      code: 'ENOENT',
    });
    expect(await servedFingerprint(port(t.tls))).toBe(certA.fingerprint);
  });

  it('admits with the new password only; a node admitted with the old one stays', async () => {
    const t = await setup();
    const bob = await nodeOn(t.tls, 'bob', 'password-one', certA.cert);
    echo(bob);
    writeFileSync(t.files.password, 'password-two\n');
    expect((await t.reload()).changed).toEqual(['password']);

    const refused = await nodeOn(t.tls, 'mallory', 'password-one', certA.cert).catch((e: unknown) => e);
    // ready() rejects with the session's end, the refusal as its cause (sealed with the new
    // password, so the node cannot read its ErrCode: a wrong password, as with Go).
    expect((refused as Error).cause).toBeInstanceOf(AdmissionError);
    expect(t.switcher.stats().refused).toBe(1);
    const alice = await nodeOn(t.tls, 'alice', 'password-two', certA.cert);
    expect(t.switcher.clients().map((c) => c.domain)).toEqual(['bob', 'alice']);
    expect(await echoes(alice, 'bob', 'old and new')).toBe('old and new');

    // An empty file (a secret being rewritten) keeps the password in use.
    writeFileSync(t.files.password, '');
    expect((await t.reload()).failed).toEqual(['password']);
    expect(t.logger.find(/^reload: kept the old password/)[0]?.fields.err).toMatch(/is empty/);
    // One that cannot be read: the CLI's code, and the runtime's under it.
    rmSync(t.files.password);
    expect((await t.reload()).failed).toEqual(['password']);
    expect(t.logger.find(/^reload: kept the old password/).at(-1)?.fields).toMatchObject({
      code: 'CLI_USAGE',
      cause: 'ENOENT',
    });
    await nodeOn(t.tls, 'carol', 'password-two', certA.cert);
    // The secret is never logged.
    expect(JSON.stringify(t.logger.entries)).not.toMatch(/password-(one|two)/);
  });

  it('takes the new admin token: the old one gets 401, the new one 200', async () => {
    const t = await setup();
    expect((await request(t.admin, '/api/v1/info', { token: 'token-one' })).status).toBe(200);
    writeFileSync(t.files.token, 'token-two\n');
    expect((await t.reload()).changed).toEqual(['admin token']);
    expect((await request(t.admin, '/api/v1/info', { token: 'token-one' })).status).toBe(401);
    expect((await request(t.admin, '/api/v1/info', { token: 'token-two' })).status).toBe(200);
    // A token an Authorization header cannot carry is refused, the new one kept.
    writeFileSync(t.files.token, 'token three\n');
    expect((await t.reload()).failed).toEqual(['admin token']);
    expect((await request(t.admin, '/api/v1/info', { token: 'token-two' })).status).toBe(200);
    expect(JSON.stringify(t.logger.entries)).not.toMatch(/token-(one|two)|token three/);
  });
});

describe("reloading the switcher's access rules (the config file's switcher.access)", () => {
  /** A config file whose switcher section has these access rules (YAML is a superset of JSON). */
  const configText = (access: unknown): string =>
    `log-level: info\nswitcher:\n  max-clients: 10\n  access: ${JSON.stringify(access)}\n`;

  it('admits with a password added, no longer with one removed; a bad section keeps the rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-access-reload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'flexmux.yaml');
    const teamFile = join(dir, 'team.pw');
    writeFileSync(teamFile, 'team-one\n');
    writeFileSync(config, configText({ passwords: [{ passwordFile: teamFile, domains: 'team-*' }] }));
    // As runSwitcher reads it at start.
    const access = accessFromConfig((loadConfigFile(config).switcher as { access: unknown }).access, config);
    const switcher = new Switcher({ password: 'pw-shared', access });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const listener = await listenTcp(switcher, { host: HOST, port: 0 });
    cleanup.push(() => listener.close());
    const url = `tcp://${HOST}:${listener.address.port}`;
    const nodeAs = async (domain: string, password: string): Promise<Session<FlexStream>> => {
      const s = connect(url, { password, domain, reconnect: false });
      cleanup.push(() => s.close());
      await s.ready({ timeout: 5_000 });
      return s;
    };
    /** The refusal's cause: ready() rejects with the session's end, the refusal under it. */
    const refusedAs = async (domain: string, password: string): Promise<unknown> =>
      (
        (await nodeAs(domain, password).then(
          () => new Error(`${domain} was admitted`),
          (e: unknown) => e,
        )) as Error
      ).cause;
    const o = { config } as SwitcherOpts;
    const plan = switcherReloadPlan(o, switcher, {
      password: 'pw-shared',
      generated: false,
      listeners: [],
      pem: undefined,
      access,
      command: switcherCmd(),
    });
    const logger = captureLogger();
    const reload = () => reloadAll(plan, logger);

    const teamA = await nodeAs('team-a', 'team-one');
    echo(teamA);
    expect(await refusedAs('team-x', 'team-two')).toBeInstanceOf(AdmissionError);
    expect((await reload()).unchanged).toEqual(['access rules']);

    // team-one replaced by team-two: the node admitted with team-one stays.
    writeFileSync(
      config,
      configText({
        passwords: [{ password: 'team-two', domains: ['team-*'] }],
        dial: [{ from: 'team-*', to: 'team-*' }],
      }),
    );
    expect(await reload()).toEqual({ changed: ['access rules'], unchanged: [], failed: [] });
    expect(logger.find('reloaded').at(-1)?.fields).toMatchObject({ changed: ['access rules'] });
    const teamB = await nodeAs('team-b', 'team-two');
    expect(await refusedAs('team-c', 'team-one')).toBeInstanceOf(AdmissionError);
    expect(switcher.clients().map((c) => c.domain)).toEqual(['team-a', 'team-b']);
    expect(teamA.connections).toBe(1);
    expect(await echoes(teamB, 'team-a', 'new rules')).toBe('new rules');
    // The dial rules of the section apply too: a node outside them may not dial in.
    const other = await nodeAs('other', 'pw-shared');
    expect(String(await echoes(other, 'team-a', 'x').catch((e: unknown) => e))).toMatch(/not allowed/);

    // A section that is not valid: an error naming the file and why, the rules in use kept.
    writeFileSync(config, configText({ passwords: [{ password: 'team-three', domains: 'a.b' }] }));
    expect(await reload()).toEqual({ changed: [], unchanged: [], failed: ['access rules'] });
    const [error] = logger.find(/^reload: kept the old access rules/);
    expect(error?.level).toBe('error');
    expect(error?.fields).toMatchObject({ files: [config] });
    expect(String(error?.fields.err)).toMatch(/domain pattern "a\.b"/);
    // Half of it is not applied either: team-three is not taken, team-two still is.
    expect(await refusedAs('team-d', 'team-three')).toBeInstanceOf(AdmissionError);
    await nodeAs('team-e', 'team-two');
    // Nor is a file that is not YAML, or one that repeats the shared password.
    writeFileSync(config, 'switcher: [unclosed\n');
    expect((await reload()).failed).toEqual(['access rules']);
    expect(String(logger.find(/^reload: kept the old access rules/).at(-1)?.fields.err)).toMatch(
      /is not valid YAML/,
    );
    writeFileSync(config, configText({ passwords: [{ password: 'pw-shared', domains: '*' }] }));
    expect((await reload()).failed).toEqual(['access rules']);
    await nodeAs('team-f', 'team-two');
    // No secret reaches the log.
    expect(JSON.stringify(logger.entries)).not.toMatch(/team-(one|two|three)|pw-shared/);
  });
  it('keeps the rules for a file a start would refuse: a section misspelt or misplaced is not "no rules"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-access-typo-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'flexmux.yaml');
    const rules = {
      passwords: [{ password: 'team-one', domains: 'team-*' }],
      dial: [{ from: 'a', to: 'b' }],
    };
    writeFileSync(config, configText(rules));
    const access = accessFromConfig((loadConfigFile(config).switcher as { access: unknown }).access, config);
    const logger = captureLogger();
    const switcher = new Switcher({ password: 'pw-shared', access, logger });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const o = { config } as SwitcherOpts;
    const sources = { password: 'pw-shared', generated: false, listeners: [], pem: undefined, access };
    const plan = switcherReloadPlan(o, switcher, { ...sources, command: switcherCmd() });
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'pw-shared\n');
    // With --password-file the section is read with it (passwordAndAccessReload): the same.
    const both = switcherReloadPlan({ config, passwordFile } as SwitcherOpts, switcher, {
      ...sources,
      command: switcherCmd(),
    });
    const edits = [
      // Misspelt mid-edit: a start says `unknown setting "switcher.acess"`.
      configText(rules).replace('access:', 'acess:'),
      // Not indented under `switcher:`: a start says `unknown setting "access"`.
      `switcher:\n  max-clients: 10\naccess: ${JSON.stringify(rules)}\n`,
      // A bad value beside the section.
      configText({}).replace('max-clients: 10', 'max-clients: ten'),
    ];
    for (const text of edits) {
      writeFileSync(config, text);
      for (const p of [plan, both]) {
        expect((await reloadAll(p, logger)).failed).toContain('access rules');
        expect(switcher.options.access).toEqual(rules);
      }
      expect(String(logger.find(/^reload: kept the old access rules/).at(-1)?.fields.err)).toMatch(
        /unknown setting|max-clients/,
      );
    }
    expect(logger.find('access rules replaced')).toEqual([]);
  });
});

describe('one reload, one version of the config file', () => {
  it('checks the file whose access rules it applies: an edit landing mid-reload waits for the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-reload-once-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'flexmux.yaml');
    const rulesOne = { dial: [{ from: 'a', to: 'b' }] };
    const rulesTwo = { dial: [{ from: 'c', to: 'd' }] };
    const one = `switcher:\n  access: ${JSON.stringify(rulesOne)}\n`;
    // The next version also raises max-clients, which only a restart applies.
    const two = `switcher:\n  max-clients: 20\n  access: ${JSON.stringify(rulesTwo)}\n`;
    writeFileSync(config, one);
    const cmd = switcherCmd();
    const applied: unknown[] = [];
    const checked: unknown[] = [];
    const plan: ReloadPlan = {
      // The edit is saved while the reload runs: after the rules were read, before the check.
      items: [
        accessReload(cmd, config, undefined, (access) => {
          applied.push(access);
          writeFileSync(config, two);
        }),
      ],
      notReloaded: [],
      startCheck: checkAgain(
        cmd,
        config,
        async (_opts, extras) => {
          checked.push(extras.access);
        },
        ['access'],
      ),
    };
    const logger = captureLogger();
    expect(await reloadAll(plan, logger)).toEqual({ changed: ['access rules'], unchanged: [], failed: [] });
    // Checked as applied: the first version, whose max-clients is the one in use.
    expect(applied).toEqual([rulesOne]);
    expect(checked).toEqual([rulesOne]);
    expect(logger.find('reloaded')[0]?.fields).toMatchObject({ needsRestart: [] });
    expect(logger.find(/a reload does not apply/)).toEqual([]);
    // The next reload reads the file as it is now, and takes all of it.
    expect(await reloadAll(plan, logger)).toEqual({ changed: ['access rules'], unchanged: [], failed: [] });
    expect(applied).toEqual([rulesOne, rulesTwo]);
    expect(checked).toEqual([rulesOne, rulesTwo]);
    expect(logger.find('reloaded')[1]?.fields).toMatchObject({ needsRestart: ['max-clients'] });
  });
});

describe('reloading the shared password and the access rules together (SIGHUP)', () => {
  const configText = (access: unknown): string => `switcher:\n  access: ${JSON.stringify(access)}\n`;

  it('moves a password between the shared one and an extra one in one reload, both ways', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-move-reload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'flexmux.yaml');
    const passwordFile = join(dir, 'password');
    const write = (shared: string, extra: unknown): void => {
      writeFileSync(passwordFile, `${shared}\n`);
      writeFileSync(config, configText(extra));
    };
    const extra = (password: string) => ({ passwords: [{ password, domains: 'team-*' }] });
    write('pw-one', extra('pw-two'));
    const access = accessFromConfig((loadConfigFile(config).switcher as { access: unknown }).access, config);
    const switcher = new Switcher({ password: 'pw-one', access });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const listener = await listenTcp(switcher, { host: HOST, port: 0 });
    cleanup.push(() => listener.close());
    const url = `tcp://${HOST}:${listener.address.port}`;
    /** Whether a node `domain` is admitted with `password` (closed again at once). */
    const admits = async (domain: string, password: string): Promise<boolean> => {
      const s = connect(url, { password, domain, reconnect: false });
      try {
        await s.ready({ timeout: 5_000 });
        return true;
      } catch (err) {
        if (!((err as Error).cause instanceof AdmissionError)) throw err;
        return false;
      } finally {
        await s.close();
      }
    };
    const o = { config, passwordFile } as SwitcherOpts;
    const plan = switcherReloadPlan(o, switcher, {
      password: 'pw-one',
      generated: false,
      listeners: [],
      pem: undefined,
      access,
      command: switcherCmd(),
    });
    const logger = captureLogger();
    const reload = () => reloadAll(plan, logger);
    expect(await reload()).toEqual({ changed: [], unchanged: ['password', 'access rules'], failed: [] });

    // The shared password becomes the extra one and the other way round: each is checked against
    // the other's new value, not its old one.
    write('pw-two', extra('pw-one'));
    expect(await reload()).toEqual({ changed: ['password', 'access rules'], unchanged: [], failed: [] });
    expect(logger.find(/^reload: /)).toEqual([]);
    expect(await admits('anyone', 'pw-two')).toBe(true);
    expect(await admits('team-a', 'pw-one')).toBe(true);
    expect(await admits('other', 'pw-one')).toBe(false);

    // Made equal: refused, both kept.
    write('pw-three', extra('pw-three'));
    expect(await reload()).toEqual({ changed: [], unchanged: [], failed: ['password', 'access rules'] });
    for (const what of ['password', 'access rules']) {
      const [line] = logger.find(
        `reload: kept the old ${what}: cannot use ${what === 'password' ? passwordFile : config}`,
      );
      expect(String(line?.fields.err)).toMatch(/repeats the shared password/);
    }
    expect(await admits('anyone', 'pw-two')).toBe(true);
    expect(await admits('team-b', 'pw-one')).toBe(true);
    expect(await admits('team-c', 'pw-three')).toBe(false);

    // A section bad on its own is refused; the new password is taken, checked against the rules in use.
    write('pw-four', { passwords: [{ password: 'pw-five', domains: 'a.b' }] });
    expect(await reload()).toEqual({ changed: ['password'], unchanged: [], failed: ['access rules'] });
    expect(await admits('anyone', 'pw-four')).toBe(true);
    expect(await admits('team-d', 'pw-one')).toBe(true);

    // And back the other way.
    write('pw-one', extra('pw-four'));
    expect(await reload()).toEqual({ changed: ['password', 'access rules'], unchanged: [], failed: [] });
    expect(await admits('anyone', 'pw-one')).toBe(true);
    expect(await admits('team-e', 'pw-four')).toBe(true);
    expect(await admits('anyone-else', 'pw-four')).toBe(false);
    expect(JSON.stringify(logger.entries)).not.toMatch(/pw-(one|two|three|four|five)/);
  });
});

describe('reloading the node command (SIGHUP)', () => {
  it('admits its next connection with the new password and verifies it with the new CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-node-reload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const passwordFile = join(dir, 'password');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(passwordFile, 'password-one\n');
    copyFileSync(certA.certFile, caFile);
    const switcher = new Switcher({ password: 'password-one' });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const listener = await listenTls(switcher, { host: HOST, port: 0, key: certA.key, cert: certA.cert });
    const o = {
      switcher: `tls://${HOST}:${listener.address.port}`,
      passwordFile,
      ca: caFile,
      connectTimeout: 5_000,
    } as ConnectOpts;
    const { session, options } = openSession(o, 'bob', silentLogger, { reconnectSpread: 0 });
    cleanup.push(() => session.close());
    await session.ready({ timeout: 5_000 });
    const logger = captureLogger();
    const plan = nodeReloadPlan(o, { session, options });

    // The switcher's operator rotates both; the node's files follow, and SIGHUP reads them.
    switcher.setPassword('password-two');
    listener.setSecureContext?.({ key: certB.key, cert: certB.cert });
    writeFileSync(passwordFile, 'password-two\n');
    copyFileSync(certB.certFile, caFile);
    expect(await reloadAll(plan, logger)).toEqual({ changed: ['password', 'CA'], unchanged: [], failed: [] });
    // The connection up stays; the next one (kicked) is verified and admitted with the new ones.
    expect(session.state).toBe('ready');
    const again = once(session, 'ready');
    expect(switcher.kick('bob')).toBe(true);
    await again;
    expect(session.connections).toBe(2);

    // A CA file without a certificate keeps the CA in use.
    writeFileSync(caFile, 'not a certificate\n');
    expect((await reloadAll(plan, logger)).failed).toEqual(['CA']);
    expect(logger.find(/^reload: kept the old CA/)[0]?.fields.err).toMatch(/holds no certificate/);
    expect(options.tls?.ca).toEqual(certB.cert);
  });

  // A node refused for its old password backed off (up to 30 s) and tried the new one only then:
  // the operator's `reloaded` was followed by silence. The back-off here is a minute long.
  it('a node waiting to reconnect tries the new password at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-node-reload-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'password-one\n');
    const switcher = new Switcher({ password: 'password-two' });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const listener = await listenTcp(switcher, { host: HOST, port: 0 });
    const o = { switcher: `tcp://${HOST}:${listener.address.port}`, passwordFile } as ConnectOpts;
    const { session, options } = openSession(o, 'carol', silentLogger, {
      backoffInitial: 60_000,
      backoffMax: 60_000,
    });
    cleanup.push(() => session.close());
    expect(await session.ready({ timeout: 5_000 }).catch((e: unknown) => e)).toBeInstanceOf(AdmissionError);
    expect(session.state).toBe('backoff');
    const plan = nodeReloadPlan(o, { session, options });
    // Unchanged: the wait goes on.
    expect((await reloadAll(plan, captureLogger())).unchanged).toEqual(['password']);
    expect(session.state).toBe('backoff');
    writeFileSync(passwordFile, 'password-two\n');
    expect((await reloadAll(plan, captureLogger())).changed).toEqual(['password']);
    await session.ready({ timeout: 5_000 });
    expect(session.connections).toBe(1);
  });
});

describe("the demo's echo node, after the switcher's password changed", () => {
  it('is admitted again when it reconnects', async () => {
    const switcher = new Switcher({ password: 'password-one' });
    cleanup.push(() => switcher.close({ timeout: 1_000 }));
    const echo = startEchoNode(switcher, 'echo', 7);
    cleanup.push(() => echo.close());
    await echo.ready({ timeout: 5_000 });
    switcher.setPassword('password-two');
    const again = once(echo, 'ready');
    expect(switcher.kick('echo')).toBe(true);
    await again;
    expect(echo.connections).toBe(2);
  });
});
