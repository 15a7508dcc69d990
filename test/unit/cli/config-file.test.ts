import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { accessFromConfig, accessReload } from '../../../src/cli/access.js';
import { applyConfig, configSnapshot, loadConfigFile, settingsAgain } from '../../../src/cli/config-file.js';
import { describeError } from '../../../src/cli/exit.js';
import { collect, parseCount, parseHostPort } from '../../../src/cli/parse.js';
import { buildProgram } from '../../../src/cli/program.js';
import { errorFields } from '../../../src/util/cause.js';

function program(): { a: Command; b: Command } {
  const root = new Command('flexmux');
  const a = new Command('a')
    .addOption(new Option('--tcp <hp>').argParser(collect(parseHostPort)))
    .addOption(new Option('--max <n>').argParser((v) => parseCount(v)))
    .addOption(new Option('--level <l>').choices(['info', 'debug']).default('info'))
    .addOption(new Option('--quiet'))
    .action(() => {});
  const b = new Command('b').addOption(new Option('--level <l>').default('info')).action(() => {});
  root.addCommand(a).addCommand(b);
  return { a, b };
}

describe('config file settings', () => {
  it('fill unset options from the top level, then from the command section', () => {
    const { a } = program();
    const extras = applyConfig(
      a,
      { level: 'debug', a: { tcp: ['x:1', 'y:2'], max: 5, quiet: true, access: { dial: [] } } },
      'f.yaml',
      ['access'],
    );
    expect(a.opts()).toEqual({
      tcp: [
        { host: 'x', port: 1 },
        { host: 'y', port: 2 },
      ],
      max: 5,
      level: 'debug',
      quiet: true,
    });
    expect(a.getOptionValueSource('max')).toBe('config');
    expect(extras).toEqual({ access: { dial: [] } });
  });

  it('leave flags and env values alone but still check them', () => {
    const { a } = program();
    a.setOptionValueWithSource('max', 9, 'cli');
    applyConfig(a, { a: { max: 5 } }, 'f.yaml');
    expect(a.opts().max).toBe(9);
    expect(() => applyConfig(a, { a: { max: 'x' } }, 'f.yaml')).toThrow('a.max: "x" is invalid');
  });

  it("a refused value's failure line names the setting and the value, not commander's code", () => {
    const { a } = program();
    let err: unknown;
    try {
      applyConfig(a, { a: { max: 'x' } }, 'f.yaml');
    } catch (e) {
      err = e;
    }
    // Before: `cause: 'commander.invalidArgument'`, from the parser's error kept as the cause.
    expect(errorFields(err)).toEqual({
      err: 'config file f.yaml: a.max: "x" is invalid: expected an integer >= 0',
      code: 'FLEX_ERR_CONFIG',
    });
  });

  it('a section key wins over the same key at the top level; kebab-case keys work', () => {
    const { a } = program();
    applyConfig(a, { tcp: 'top:1', a: { tcp: 'section:2' } }, 'f.yaml');
    expect(a.opts().tcp).toEqual([{ host: 'section', port: 2 }]);
  });

  it('reject unknown keys, wrong types and values outside the choices', () => {
    const { a, b } = program();
    expect(() => applyConfig(a, { nope: 1 }, 'f.yaml')).toThrow('config file f.yaml: unknown setting "nope"');
    expect(() => applyConfig(a, { a: { level2: 1 } }, 'f.yaml')).toThrow('unknown setting "a.level2"');
    expect(() => applyConfig(a, { a: 'x' }, 'f.yaml')).toThrow('"a" must be a mapping');
    expect(() => applyConfig(a, { a: { quiet: 'yes' } }, 'f.yaml')).toThrow('a.quiet must be true or false');
    expect(() => applyConfig(a, { a: { max: [1, 2] } }, 'f.yaml')).toThrow('takes one value, not a list');
    expect(() => applyConfig(a, { a: { max: [1] } }, 'f.yaml')).toThrow('a.max takes one value, not a list');
    // An empty list is no value: refused for a flag that takes one, an empty list for a repeatable.
    expect(() => applyConfig(a, { a: { max: [] } }, 'f.yaml')).toThrow('a.max takes one value, not a list');
    expect(() => applyConfig(a, { level: [] }, 'f.yaml')).toThrow('level takes one value, not a list');
    expect(a.opts().level).toBe('info');
    applyConfig(a, { a: { tcp: [] } }, 'f.yaml');
    expect(a.opts().tcp).toEqual([]);
    expect(() => applyConfig(a, { a: { tcp: { h: 1 } } }, 'f.yaml')).toThrow('must be a string or a number');
    expect(() => applyConfig(a, { a: { level: 'loud' } }, 'f.yaml')).toThrow('must be one of info, debug');
    // --max exists only on a: at the top level it is known, and b ignores it.
    expect(() => applyConfig(b, { max: 3 }, 'f.yaml')).not.toThrow();
  });

  it('read a UTF-16 file by its byte-order mark, as Windows PowerShell 5 writes one', () => {
    // Read as UTF-8, it was said to hold no mapping of settings (its text was NULs between letters).
    const dir = mkdtempSync(join(tmpdir(), 'flexmux-cfg-utf16-'));
    try {
      const text = 'switcher:\r\n  tcp: 127.0.0.1:7001\r\n';
      const le = join(dir, 'le.yaml');
      writeFileSync(le, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
      expect(loadConfigFile(le)).toEqual({ switcher: { tcp: '127.0.0.1:7001' } });
      const be = join(dir, 'be.yaml');
      writeFileSync(be, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]).swap16());
      expect(loadConfigFile(be)).toEqual({ switcher: { tcp: '127.0.0.1:7001' } });
      // A UTF-8 one with its mark (Notepad's) as before.
      const utf8 = join(dir, 'bom.yaml');
      writeFileSync(utf8, `\uFEFF${text}`);
      expect(loadConfigFile(utf8)).toEqual({ switcher: { tcp: '127.0.0.1:7001' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse one setting given under both its spellings, where the later was taken', () => {
    const both = { 'max-clients': 5, maxClients: 10 };
    const cmd = new Command('c').addOption(new Option('--max-clients <n>').argParser((v) => parseCount(v)));
    new Command('flexmux').addCommand(cmd);
    expect(() => applyConfig(cmd, both, 'f.yaml')).toThrow(
      'config file f.yaml: "max-clients" and "maxClients" are one setting: give it once',
    );
    expect(() => applyConfig(cmd, { c: both }, 'f.yaml')).toThrow(
      'config file f.yaml: c: "max-clients" and "maxClients" are one setting',
    );
    expect(cmd.opts().maxClients).toBeUndefined();
    // One spelling at the top level and the other in the section is a section winning, as ever.
    applyConfig(cmd, { 'max-clients': 5, c: { maxClients: 10 } }, 'f.yaml');
    expect(cmd.opts().maxClients).toBe(10);
  });
});

describe('settings resolved again from a changed file (a reload’s start check)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keep flags, take the file as it is now, and fall back to defaults it no longer sets', () => {
    const { a } = program();
    a.parent?.parse(['a', '--max', '3'], { from: 'user' });
    applyConfig(a, { a: { tcp: 'x:1', level: 'debug', max: 4 } }, 'f.yaml');
    const file = join(dir, 'again.yaml');
    writeFileSync(file, 'a:\n  tcp: y:2\n  max: 9\n');
    const { opts } = settingsAgain(a, file);
    expect(opts).toMatchObject({ max: 3, tcp: [{ host: 'y', port: 2 }], level: 'info' });
    // The command itself is left as the start resolved it.
    expect(a.opts()).toMatchObject({ max: 3, tcp: [{ host: 'x', port: 1 }], level: 'debug' });
    writeFileSync(file, 'a:\n  levell: debug\n');
    expect(() => settingsAgain(a, file)).toThrow(/unknown setting "a.levell"/);
  });

  it('refuse a file with no settings (caught mid-write), which a start takes; {} is none', () => {
    const { a } = program();
    const file = join(dir, 'empty.yaml');
    for (const text of ['', '\n', '# the relay\n']) {
      writeFileSync(file, text);
      expect(loadConfigFile(file)).toEqual({});
      expect(() => settingsAgain(a, file)).toThrow(/holds no settings \(empty, or comments only\)/);
    }
    writeFileSync(file, '{}\n');
    expect(settingsAgain(a, file).opts).toMatchObject({ level: 'info' });
  });
});

describe("the top-level key 'switcher'", () => {
  const commands = (): Map<string, Command> =>
    new Map(buildProgram(() => {}).commands.map((c) => [c.name(), c]));

  it('is the --switcher URL of node, dial and ping when it is not a mapping (docs/cli.md)', () => {
    const c = commands();
    for (const name of ['node', 'dial', 'ping']) {
      const cmd = c.get(name) as Command;
      applyConfig(cmd, { switcher: 'tcp://relay:7000' }, 'f.yaml');
      expect(cmd.opts().switcher).toBe('tcp://relay:7000');
      expect(cmd.getOptionValueSource('switcher')).toBe('config');
    }
    // The switcher command has no --switcher flag: nothing to set, nothing wrong.
    expect(() =>
      applyConfig(c.get('switcher') as Command, { switcher: 'tcp://relay:7000' }, 'f.yaml'),
    ).not.toThrow();
  });

  it("is still the switcher command's section when it is a mapping", () => {
    const c = commands();
    const dial = c.get('dial') as Command;
    applyConfig(dial, { switcher: { 'max-clients': 5 } }, 'f.yaml');
    expect(dial.getOptionValueSource('switcher')).toBe('default');
    expect(() => applyConfig(c.get('ping') as Command, { node: 'x' }, 'f.yaml')).toThrow(
      '"node" must be a mapping',
    );
  });
});

describe("the top-level key 'domain'", () => {
  it("is the node command's domain only: a one-shot dial or ping must not take it over", () => {
    const c = new Map(buildProgram(() => {}).commands.map((x) => [x.name(), x]));
    const node = c.get('node') as Command;
    applyConfig(node, { domain: 'alice' }, 'f.yaml');
    expect(node.opts().domain).toBe('alice');
    for (const name of ['dial', 'ping']) {
      const cmd = c.get(name) as Command;
      applyConfig(cmd, { domain: 'alice' }, 'f.yaml');
      expect(cmd.opts().domain).toBeUndefined();
      // In their own section a domain is theirs to use.
      applyConfig(cmd, { [name]: { domain: `${name}-x` } }, 'f.yaml');
      expect(cmd.opts().domain).toBe(`${name}-x`);
    }
  });
});

describe("dial's exit-on-remote-end", () => {
  it('is a switch of the config file (true/false), as the ProxyCommand example may want it set', () => {
    const c = new Map(buildProgram(() => {}).commands.map((x) => [x.name(), x]));
    const dial = c.get('dial') as Command;
    applyConfig(dial, { dial: { 'exit-on-remote-end': true } }, 'f.yaml');
    expect(dial.opts().exitOnRemoteEnd).toBe(true);
    expect(() => applyConfig(dial, { dial: { exitOnRemoteEnd: 'yes' } }, 'f.yaml')).toThrow(
      'must be true or false',
    );
  });
});

describe('access section', () => {
  it('reads passwords (inline) and dial rules', () => {
    expect(
      accessFromConfig(
        { passwords: [{ password: 'p', domains: ['t-*'] }], dial: [{ from: 't-*', to: ['db'] }] },
        'f',
      ),
    ).toEqual({ passwords: [{ password: 'p', domains: ['t-*'] }], dial: [{ from: 't-*', to: ['db'] }] });
    expect(accessFromConfig(undefined, 'f')).toBeUndefined();
  });

  it('refuses a password entry with both spellings of passwordFile: one of them was dropped', () => {
    expect(() =>
      accessFromConfig(
        { passwords: [{ passwordFile: '/a', 'password-file': '/b', domains: 'x' }] },
        'f.yaml',
      ),
    ).toThrow('config file f.yaml: access.passwords[0]: "passwordFile" and "password-file" are one setting');
  });

  it('names what is wrong', () => {
    expect(() => accessFromConfig('x', 'f')).toThrow('access must be a mapping');
    expect(() => accessFromConfig({ other: 1 }, 'f')).toThrow('unknown setting "other"');
    expect(() => accessFromConfig({ passwords: [{ domains: 'x' }] }, 'f')).toThrow(
      'needs one of password or passwordFile',
    );
    expect(() =>
      accessFromConfig({ passwords: [{ password: 'a', passwordFile: 'b', domains: 'x' }] }, 'f'),
    ).toThrow('needs one of password or passwordFile');
    expect(() => accessFromConfig({ dial: [{ from: 1, to: 'x' }] }, 'f')).toThrow(
      'access.dial[0].from must be',
    );
    expect(() =>
      accessFromConfig({ passwords: [{ passwordFile: '/nonexistent', domains: 'x' }] }, 'f'),
    ).toThrow('cannot read the password file /nonexistent');
  });

  it('refuses an empty inline password, as an empty password file: it would let anyone in', () => {
    // `password: "${TEAM_PW}"` templated with the variable unset: any node sending the empty
    // password could then register the team's domains.
    expect(() => accessFromConfig({ passwords: [{ password: '', domains: ['team-*'] }] }, 'f')).toThrow(
      'config file f: access.passwords[0].password is empty',
    );
  });
});

describe('the access section read again (SIGHUP)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is none in a shared file whose top-level switcher is the URL of node, dial and ping', async () => {
    // A start of the switcher takes this file (the key is not its section): so must a reload.
    const file = join(dir, 'shared.yaml');
    writeFileSync(file, 'switcher: tcp://relay:7000\ndomain: alice\n');
    const switcher = new Map(buildProgram(() => {}).commands.map((c) => [c.name(), c])).get('switcher');
    expect(applyConfig(switcher as Command, loadConfigFile(file), file, ['access'])).toEqual({});
    const applied: unknown[] = [];
    const reload = accessReload(switcher as Command, file, undefined, (a) => applied.push(a));
    expect(await reload.reload(configSnapshot())).toBe(false);
    expect(applied).toEqual([]);
  });
});

describe('the config file as one reload reads it (configSnapshot)', () => {
  it('reads each file once: every part of the reload takes that version, or that failure', () => {
    const texts = ['log-level: info\n', 'log-level: debug\n'];
    const read: string[] = [];
    const snapshot = configSnapshot((file) => {
      read.push(file);
      return texts[read.length - 1] ?? '';
    });
    expect(snapshot('a.yaml')).toEqual({ 'log-level': 'info' });
    expect(snapshot('a.yaml')).toEqual({ 'log-level': 'info' });
    expect(read).toEqual(['a.yaml']);

    // A read that fails fails for every part alike: none takes the file read after it.
    let calls = 0;
    const failing = configSnapshot(() => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('busy'), { code: 'EIO' });
      return 'log-level: info\n';
    });
    expect(() => failing('b.yaml')).toThrow(/cannot read config file b\.yaml: busy/);
    expect(() => failing('b.yaml')).toThrow(/cannot read config file b\.yaml: busy/);
    expect(calls).toBe(1);
    // Each reload takes a snapshot of its own: the next one reads the file again.
    expect(configSnapshot(() => 'log-level: warn\n')('b.yaml')).toEqual({ 'log-level': 'warn' });
  });
});

describe('numeric-looking values in the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return loadConfigFile(file);
  };
  const commands = (): Map<string, Command> =>
    new Map(buildProgram(() => {}).commands.map((c) => [c.name(), c]));

  it('keep the text they were written as: domains and domain patterns 123, 1e3, 0x1F, 007', () => {
    const data = load(
      'numeric.yaml',
      [
        'switcher:',
        '  max-clients: 1000',
        '  access:',
        '    passwords:',
        '      - password: 0123',
        '        domains: [123, 1e3, 0x1F]',
        '    dial:',
        '      - { from: 007, to: 1e3 }',
        'node:',
        '  domain: 1e3',
        '',
      ].join('\n'),
    );
    const c = commands();
    const node = c.get('node') as Command;
    applyConfig(node, data, 'numeric.yaml');
    expect(node.opts().domain).toBe('1e3');
    const sw = c.get('switcher') as Command;
    const extras = applyConfig(sw, data, 'numeric.yaml', ['access']);
    // A numeric flag still gets its number, parsed from the same text a flag would carry.
    expect(sw.opts().maxClients).toBe(1000);
    expect(accessFromConfig(extras.access, 'numeric.yaml')).toEqual({
      passwords: [{ password: '0123', domains: ['123', '1e3', '0x1F'] }],
      dial: [{ from: '007', to: '1e3' }],
    });
  });

  it('leave quoted strings, switches and nulls as YAML reads them', () => {
    expect(load('types.yaml', 'a: "1e3"\nb: true\nc: ~\nd: [x, 12]\n')).toEqual({
      a: '1e3',
      b: true,
      c: null,
      d: ['x', '12'],
    });
  });
});

describe('a config file that is not valid YAML', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is named with the line and column, without quoting the line (it may hold a password)', () => {
    const cases: [string, string][] = [
      ['switcher:\n  access:\n    passwords:\n      - password: Sup3rS3cret: x\n', 'line 4, column 19'],
      [
        'switcher:\n  access:\n    passwords:\n      - password: "Sup3rS3cret\n        domains: [a]\n',
        'line 6',
      ],
    ];
    for (const [i, [text, where]] of cases.entries()) {
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, text);
      let message = '';
      try {
        loadConfigFile(file);
      } catch (err) {
        // The line the CLI prints: the message and, when it adds something, its cause's.
        message = describeError(err);
      }
      expect(message).toContain(`config file ${file} is not valid YAML: `);
      expect(message).toContain(where);
      expect(message).not.toContain('S3cret');
      expect(message).not.toContain('\n');
    }
  });
});

describe("the top-level key 'timeout' (ping -W, clients and kick --timeout)", () => {
  const commands = (): Map<string, Command> =>
    new Map(buildProgram(() => {}).commands.map((c) => [c.name(), c]));
  const timeouts = (data: Record<string, unknown>): Record<string, unknown> => {
    const c = commands();
    const out: Record<string, unknown> = {};
    for (const name of ['ping', 'clients', 'kick']) {
      const cmd = c.get(name) as Command;
      applyConfig(cmd, data, 'f.yaml');
      out[name] = cmd.opts().timeout;
    }
    return out;
  };

  it('with a unit means the same for every command', () => {
    expect(timeouts({ timeout: '5s' })).toEqual({ ping: 5_000, clients: 5_000, kick: 5_000 });
    expect(timeouts({ timeout: '250ms' })).toEqual({ ping: 250, clients: 250, kick: 250 });
  });

  it('as a bare number is refused: seconds for ping -W, milliseconds for clients/kick --timeout', () => {
    // It was 5 s for ping and 5 ms for clients and kick (every request timed out).
    for (const [name, cmd] of commands()) {
      expect(() => applyConfig(cmd, { timeout: '5' }, 'f.yaml'), name).toThrow(
        'config file f.yaml: timeout: "5" is 5000 ms for ping but 5 ms for clients, kick: ' +
          "give the unit (5s, 5ms) or set it in the command's section",
      );
    }
  });

  it('in a list is refused as any list is for a flag that takes one value', () => {
    // A list of one was taken as its item, past the check above: 5 s for ping, 5 ms for clients.
    for (const name of ['ping', 'clients', 'kick']) {
      const cmd = commands().get(name) as Command;
      expect(() => applyConfig(cmd, { timeout: ['5'] }, 'f.yaml'), name).toThrow(
        'config file f.yaml: timeout takes one value, not a list',
      );
    }
  });

  it("in a command's section a bare number is read as that command's flag reads it", () => {
    expect(
      timeouts({ ping: { timeout: '2' }, clients: { timeout: '2000' }, kick: { timeout: 300 } }),
    ).toEqual({ ping: 2_000, clients: 2_000, kick: 300 });
  });
});
