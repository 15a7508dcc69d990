import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAgain } from '../../src/cli/check-again.js';
import { type CommandContext, type Invocation, prepare } from '../../src/cli/command.js';
import { listenForward, serveExpose } from '../../src/cli/node.js';
import { NodeRules, nodeRulesPlan } from '../../src/cli/node-rules.js';
import type { Expose, Forward } from '../../src/cli/parse.js';
import { buildProgram } from '../../src/cli/program.js';
import { reloadAll } from '../../src/cli/reload.js';
import { connect } from '../../src/connect.js';
import type { FlexStream, Session } from '../../src/index.js';
import { splice } from '../../src/splice.js';
import { Switcher } from '../../src/switcher/switcher.js';
import { listenTcp } from '../../src/switcher-node.js';
import { type CapturingLogger, captureLogger } from '../helpers/faulty-log.js';

/**
 * `flexmux node --config FILE` reads its `expose` and `forward` rules again on SIGHUP, called as
 * the command calls it (node.ts: NodeRules, nodeRulesPlan): the file changes, the reload applies
 * the difference, the node's connection and the tunnels through it stay.
 */

const HOST = '127.0.0.1';
const PASSWORD = 'rules-password';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A TCP service answering each piece it reads with `name:` and the piece; ends when its client does. */
async function tagServer(name: string): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (c: Buffer) => socket.write(`${name}:${c}`));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Writes `text` to `s` and resolves with the answer of a tagServer (a 3-letter name, `:`, `text`). */
function answer(s: Duplex, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += String(c);
      if (got.length < text.length + 4) return;
      s.off('data', onData);
      s.off('error', reject);
      resolve(got);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(text);
  });
}

interface NodeUnderTest {
  file: string;
  /** The node command, its settings resolved as at start. */
  cmd: Command;
  rules: NodeRules;
  reload: () => ReturnType<typeof reloadAll>;
  logger: CapturingLogger;
  bob: Session<FlexStream>;
  /** Every forward listener bound, kept or not. */
  bound: net.Server[];
}

/**
 * A switcher, node alice set up as `flexmux node --config FILE ARGS` sets it up (its settings
 * resolved by the CLI's own program), and node bob to dial her.
 */
async function startNode(
  yaml: string,
  args: string[] = [],
  env: Record<string, string> = {},
  beforeBind: (f: Forward) => Promise<void> = async () => {},
): Promise<NodeUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-rules-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'flexmux.yaml');
  writeFileSync(file, yaml);
  const switcher = new Switcher({ password: PASSWORD });
  cleanup.push(() => switcher.close({ timeout: 1_000 }));
  const tcp = await listenTcp(switcher, { host: HOST, port: 0 });
  cleanup.push(() => tcp.close());
  const url = `tcp://${HOST}:${tcp.address.port}`;

  let inv: Invocation | null = null;
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await buildProgram((i) => {
      inv = i;
    }).parseAsync(['node', 'flexmux', 'node', '--config', file, '-s', url, '-d', 'alice', ...args]);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
  const ctx: CommandContext = prepare(inv as unknown as Invocation);
  const o = ctx.cmd.opts<{ expose?: Expose[]; forward?: Forward[] }>();

  const logger = captureLogger();
  const alice = connect(url, { password: PASSWORD, domain: 'alice' });
  cleanup.push(() => alice.close());
  const bob = connect(url, { password: PASSWORD, domain: 'bob' });
  cleanup.push(() => bob.close());
  const bound: net.Server[] = [];
  const tunnels = { splice: (stream: FlexStream, socket: net.Socket) => splice(socket, stream) };
  const rules = new NodeRules(
    {
      expose: (e) => serveExpose(alice, e, tunnels, logger),
      forward: async (f, admitted) => {
        await beforeBind(f);
        const o = { bind: HOST, dialTimeout: 5_000 };
        const server = await listenForward(alice, f, o, tunnels, logger, { admitted });
        bound.push(server);
        return server;
      },
    },
    logger,
  );
  cleanup.push(() => rules.close());
  await rules.startForwarding(o.forward ?? []);
  rules.startExposing(o.expose ?? []);
  await Promise.all([alice.ready({ timeout: 5_000 }), bob.ready({ timeout: 5_000 })]);
  const plan = nodeRulesPlan(ctx.cmd, file, rules);
  return { file, cmd: ctx.cmd, rules, reload: () => reloadAll(plan, logger), logger, bob, bound };
}

async function dial(bob: Session<FlexStream>, address: string): Promise<FlexStream> {
  const s = await bob.dial(address, { timeout: 5_000 });
  cleanup.push(() => {
    s.destroy();
  });
  return s;
}

/** A TCP connection to 127.0.0.1:`port`, closed at the end of the test. */
async function tcpTo(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port });
  cleanup.push(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** The port of the `forwarding` line logged for `target`, the last one. */
function forwardPort(logger: CapturingLogger, target: string): number {
  const line = logger.find('forwarding', { target }).at(-1);
  return Number(String(line?.fields.listen).split(':').at(-1));
}

const RULES = 'expose and forward rules';

describe('flexmux node reloads its expose and forward rules (SIGHUP)', () => {
  it('serves the new rules; a removed port refuses, a stream open through it stays', async () => {
    const one = await tagServer('one');
    const two = await tagServer('two');
    const t = await startNode(`node:\n  expose: ["7=${HOST}:${one}"]\n`);
    const before = await dial(t.bob, 'alice:7');
    expect(await answer(before, 'a')).toBe('one:a');

    writeFileSync(t.file, `node:\n  expose: ["8=${HOST}:${two}"]\n  forward: ["0=alice:8"]\n`);
    expect(await t.reload()).toEqual({ changed: [RULES], unchanged: [], failed: [] });
    expect(t.logger.find('reloaded')[0]?.fields).toMatchObject({ changed: [RULES], notReloaded: [] });
    expect(t.logger.find('stopped exposing', { port: 7 })).toHaveLength(1);

    expect(await answer(await dial(t.bob, 'alice:8'), 'b')).toBe('two:b');
    await expect(t.bob.dial('alice:7', { timeout: 5_000 })).rejects.toMatchObject({
      code: 'FLEX_ERR_DIAL_REFUSED',
      reason: 'no-listener',
    });
    // Opened through port 7 before the reload: still carries both ways.
    expect(await answer(before, 'c')).toBe('one:c');
    // The new forward listener: local port -> alice:8 -> the second service.
    const forwarded = await tcpTo(forwardPort(t.logger, 'alice:8'));
    expect(await answer(forwarded, 'd')).toBe('two:d');

    // The same file again: nothing to do.
    expect(await t.reload()).toEqual({ changed: [], unchanged: [RULES], failed: [] });
  });

  it('sends the next stream and connection of a changed rule to its new target', async () => {
    const one = await tagServer('one');
    const two = await tagServer('two');
    const t = await startNode(
      `node:\n  expose: ["7=${HOST}:${one}", "8=${HOST}:${two}"]\n  forward: ["0=alice:7"]\n`,
    );
    const port = forwardPort(t.logger, 'alice:7');
    const oldConnection = await tcpTo(port);
    expect(await answer(oldConnection, 'a')).toBe('one:a');
    const oldStream = await dial(t.bob, 'alice:7');

    writeFileSync(
      t.file,
      `node:\n  expose: ["7=${HOST}:${two}", "8=${HOST}:${two}"]\n  forward: ["${port}=alice:8"]\n`,
    );
    expect(await t.reload()).toEqual({ changed: [RULES], unchanged: [], failed: [] });
    expect(t.logger.find('exposing', { port: 7, was: `${HOST}:${one}` })).toHaveLength(1);

    expect(await answer(await dial(t.bob, 'alice:7'), 'b')).toBe('two:b');
    expect(await answer(oldStream, 'c')).toBe('one:c');
    expect(await answer(oldConnection, 'd')).toBe('one:d');
    // The rule now names the port its listener was given for 0: the same listener, retargeted.
    expect(await answer(await tcpTo(port), 'e')).toBe('two:e');
  });

  it('keeps every rule as it was when the file is invalid, and names the file and the reason', async () => {
    const one = await tagServer('one');
    const t = await startNode(`node:\n  expose: ["7=${HOST}:${one}"]\n  forward: ["0=alice:7"]\n`);
    const port = forwardPort(t.logger, 'alice:7');
    const served = t.rules.rules;
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, HOST, resolve));
    cleanup.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const busyPort = (busy.address() as net.AddressInfo).port;

    const bad: [string, RegExp][] = [
      [`node:\n  expose: ["7=nowhere"]\n`, /node\.expose: "7=nowhere" is invalid/],
      [`node:\n  expose: ["9=${HOST}:1", "9=${HOST}:2"]\n`, /virtual port 9 is exposed twice/],
      [
        `node:\n  expose: []\n  forward: ["5000=alice:7", "5000=alice:8"]\n`,
        /local port 5000 is forwarded twice/,
      ],
      // A good new listener, then one that cannot bind: the first is closed again.
      [`node:\n  expose: []\n  forward: ["0=alice:9", "${busyPort}=alice:7"]\n`, /cannot listen on/],
      [`node:\n  expose: [\n`, /not valid YAML/],
      [`node:\n  expose: []\n  colour: blue\n`, /unknown setting "node.colour"/],
    ];
    for (const [yaml, why] of bad) {
      t.logger.clear();
      writeFileSync(t.file, yaml);
      expect(await t.reload()).toEqual({ changed: [], unchanged: [], failed: [RULES] });
      const [error] = t.logger.find(`reload: kept the old ${RULES}: cannot use ${t.file}`);
      expect(error?.level).toBe('error');
      expect(String(error?.fields.err)).toMatch(why);
      expect(t.logger.find('reloaded, with failures')).toHaveLength(1);
      expect(t.rules.rules).toEqual(served);
      expect(t.logger.find('forwarding')).toEqual([]);
    }
    expect(await answer(await dial(t.bob, 'alice:7'), 'a')).toBe('one:a');
    expect(await answer(await tcpTo(port), 'b')).toBe('one:b');
    // The listener bound for 0=alice:9 before the busy port failed was closed again.
    expect(t.bound).toHaveLength(2);
    expect(t.bound.map((b) => b.listening)).toEqual([true, false]);
  });

  it('closes, unforwarded, a connection a new listener accepted before the reload failed', async () => {
    const one = await tagServer('one');
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, HOST, resolve));
    cleanup.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const busyPort = (busy.address() as net.AddressInfo).port;
    let early: net.Socket | undefined;
    // Before the busy port's bind fails: a connection to the listener bound just before, accepted.
    const beforeBind = async (f: Forward): Promise<void> => {
      if (f.localPort !== busyPort) return;
      const first = t.bound.at(-1) as net.Server;
      const accepted = new Promise<void>((resolve) => first.once('connection', () => resolve()));
      early = await tcpTo((first.address() as net.AddressInfo).port);
      early.on('error', () => {});
      await accepted;
    };
    const t = await startNode(`node:\n  expose: ["7=${HOST}:${one}"]\n`, [], {}, beforeBind);
    writeFileSync(
      t.file,
      `node:\n  expose: ["7=${HOST}:${one}"]\n  forward: ["0=alice:7", "${busyPort}=alice:7"]\n`,
    );
    expect(await t.reload()).toEqual({ changed: [], unchanged: [], failed: [RULES] });
    const socket = early as net.Socket;
    const outcome = await new Promise<string>((resolve) => {
      socket.on('data', (c: Buffer) => resolve(`forwarded: ${c}`));
      socket.on('close', () => resolve('closed'));
      socket.write('a');
    });
    expect(outcome).toBe('closed');
    expect(t.rules.rules.forward).toEqual([]);
  });

  it('checks the version of the file whose rules it applies, not one saved mid-reload', async () => {
    const one = await tagServer('one');
    let edited = false;
    // Saved while the reload binds its new listener: after the rules were read, before the check.
    const beforeBind = async (): Promise<void> => {
      if (edited) return;
      edited = true;
      writeFileSync(t.file, `node:\n  expose: ["7=${HOST}:${one}"]\n  forward: ["0=alice:8"]\n`);
    };
    const t = await startNode(`node:\n  expose: ["7=${HOST}:${one}"]\n`, [], {}, beforeBind);
    const checked: string[][] = [];
    const plan = {
      ...nodeRulesPlan(t.cmd, t.file, t.rules),
      startCheck: checkAgain<{ forward?: Forward[] }>(
        t.cmd,
        t.file,
        async (opts) => checked.push((opts.forward ?? []).map((f) => `${f.domain}:${f.port}`)),
        [],
        ['expose', 'forward'],
      ),
    };
    writeFileSync(t.file, `node:\n  expose: ["7=${HOST}:${one}"]\n  forward: ["0=alice:7"]\n`);
    expect(await reloadAll(plan, t.logger)).toEqual({ changed: [RULES], unchanged: [], failed: [] });
    expect(edited).toBe(true);
    expect(t.rules.rules.forward.map((f) => f.port)).toEqual([7]);
    expect(checked).toEqual([['alice:7']]);
    // The next reload takes the edit.
    expect(await reloadAll(plan, t.logger)).toEqual({ changed: [RULES], unchanged: [], failed: [] });
    expect(t.rules.rules.forward.map((f) => f.port)).toEqual([8]);
    expect(checked).toEqual([['alice:7'], ['alice:8']]);
  });

  it('leaves a list given by a flag or a variable, and says so', async () => {
    const one = await tagServer('one');
    const two = await tagServer('two');
    const t = await startNode(`node:\n  expose: ["7=${HOST}:${one}"]\n`, ['--expose', `7=${HOST}:${one}`], {
      FLEXMUX_FORWARD: '0=alice:7',
    });
    writeFileSync(t.file, `node:\n  expose: ["8=${HOST}:${two}"]\n  forward: ["0=alice:8"]\n`);
    expect(await t.reload()).toEqual({ changed: [], unchanged: [], failed: [] });
    expect(t.logger.find('reloaded')[0]?.fields).toMatchObject({
      notReloaded: ['expose (from --expose)', 'forward (from FLEXMUX_FORWARD)'],
    });
    expect(t.rules.rules.expose.map((e) => e.port)).toEqual([7]);
    expect(t.rules.rules.forward.map((f) => f.port)).toEqual([7]);
  });

  it('reads the list a flag did not give, even one the file did not have at start', async () => {
    const one = await tagServer('one');
    const t = await startNode('log-level: info\n', ['--expose', `7=${HOST}:${one}`]);
    writeFileSync(t.file, `node:\n  forward: ["0=alice:7"]\n`);
    expect(await t.reload()).toEqual({ changed: ['forward rules'], unchanged: [], failed: [] });
    expect(await answer(await tcpTo(forwardPort(t.logger, 'alice:7')), 'a')).toBe('one:a');
  });
});

describe('NodeRules stopped while binding', () => {
  it('closes a forward listener bound at start after close(), and binds no more', async () => {
    const logger = captureLogger();
    const bound: net.Server[] = [];
    let release = (): void => {};
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    const rules = new NodeRules(
      {
        expose: () => ({ close() {} }),
        forward: async () => {
          // The first bind completes only once the test has stopped the rules.
          if (bound.length === 0) await first;
          const server = net.createServer();
          bound.push(server);
          cleanup.push(() => {
            server.close();
          });
          await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
          return server;
        },
      },
      logger,
    );
    const starting = rules.startForwarding([
      { localPort: 0, domain: 'alice', port: 7 },
      { localPort: 0, domain: 'alice', port: 8 },
    ]);
    rules.close();
    release();
    await starting;
    expect(bound).toHaveLength(1);
    expect(bound[0]?.listening).toBe(false);
    expect(rules.rules.forward).toEqual([]);
    expect(logger.find('forwarding')).toEqual([]);
  });
});

describe('NodeRules reload whose expose fails', () => {
  it('changes no forward and no expose, and closes the listeners it bound', async () => {
    const logger = captureLogger();
    const bound: net.Server[] = [];
    const closed: number[] = [];
    const rules = new NodeRules(
      {
        expose: (e) => {
          // As session.listen does on a session closed while the reload was binding.
          if (e.port === 9) throw new Error('session closed');
          return { close: () => closed.push(e.port) };
        },
        forward: async () => {
          const server = net.createServer();
          bound.push(server);
          cleanup.push(() => {
            server.close();
          });
          await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
          return server;
        },
      },
      logger,
    );
    cleanup.push(() => rules.close());
    await rules.startForwarding([{ localPort: 0, domain: 'alice', port: 7 }]);
    rules.startExposing([{ port: 7, target: { host: HOST, port: 1 } }]);
    const served = rules.rules;
    logger.clear();

    await expect(
      rules.apply({
        expose: [
          { port: 8, target: { host: HOST, port: 2 } },
          { port: 9, target: { host: HOST, port: 3 } },
        ],
        forward: [{ localPort: 0, domain: 'alice', port: 8 }],
      }),
    ).rejects.toThrow('session closed');
    expect(rules.rules).toEqual(served);
    // Port 7 still listens; port 8, listened on before port 9 failed, is closed again.
    expect(closed).toEqual([8]);
    expect(logger.find('stopped exposing').map((l) => l.fields.port)).toEqual([8]);
    // The old forward listener serves on; the one bound for the new rule is closed.
    expect(bound.map((b) => b.listening)).toEqual([true, false]);
    expect(logger.find('forwarding')).toEqual([]);
    expect(logger.find('stopped forwarding')).toEqual([]);
  });
});
