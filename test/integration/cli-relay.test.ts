import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, killAll, ROOT, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';

/**
 * The CLI end to end, as child processes: a switcher, a node exposing a local TCP service, and
 * dial/forward reaching it, with the bytes checked and the half-close carried across.
 */

// Each CLI process starts through tsx: allow for a loaded machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const PASSWORD = 'test-password';
const ENV = { FLEXMUX_PASSWORD: PASSWORD };
const CERT = `${ROOT}test/fixtures/tls/cert.pem`;
const KEY = `${ROOT}test/fixtures/tls/key.pem`;

const servers: net.Server[] = [];

/**
 * A TCP service that reads its whole request (until the client's end, so only a carried
 * half-close lets it answer) and replies with its length and SHA-256, then ends.
 */
async function hashServer(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const hash = createHash('sha256');
    let length = 0;
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    socket.on('end', () => socket.end(`${length} ${hash.digest('hex')}\n`));
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Sends `data` to a local TCP port, half-closes, and resolves with the whole answer. */
function viaPort(host: string, port: number, data: Buffer): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += String(c);
    });
    socket.on('end', () => {
      socket.end();
      resolve(text);
    });
    socket.on('error', reject);
    socket.end(data);
  });
}

/** How a TCP connection ended, seen from one end: 'end' for a FIN, else the error code. */
function ending(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.on('data', () => {});
    socket.on('end', () => resolve('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function expected(data: Buffer): string {
  return `${data.length} ${createHash('sha256').update(data).digest('hex')}\n`;
}

afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  for (const s of servers.splice(0)) s.close();
});

describe('switcher + node --expose + dial', () => {
  let tcp = '';
  let ws = '';

  // One switcher and one exposing node for the whole block; each test's own processes die after it.
  beforeAll(async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0', '--ws', '127.0.0.1:0'], ENV, { shared: true });
    tcp = sw.tcp;
    ws = sw.ws;
    expect(tcp).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/flex\/ws$/);
    const port = await hashServer();
    const node = runCli(['node', '-s', tcp, '-d', 'alice', '--expose', `22=127.0.0.1:${port}`], {
      env: ENV,
      shared: true,
    });
    await node.waitForLog('session ready');
  });

  it('carries 1 MiB through the switcher intact, over TCP and over WebSocket', async () => {
    const data = randomBytes(1024 * 1024 + 7);
    for (const url of [tcp, ws]) {
      const r = await runCliToEnd(['dial', 'alice:22', '-s', url], { env: ENV, input: data });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(expected(data));
    }
  });

  it('prints progress with --stats', async () => {
    const data = randomBytes(64 * 1024);
    const r = await runCliToEnd(['dial', 'alice:22', '-s', tcp, '--stats'], { env: ENV, input: data });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected(data));
    expect(r.stderr).toMatch(/^done: sent 64\.0 KiB \([^)]+\/s\), received 71 B \([^)]+\/s\), [\d.]+ s$/m);
  });

  it('node --forward makes the exposed service reachable on a local port', async () => {
    const forwarder = runCli(['node', '-s', ws, '-d', 'bob', '--forward', '0=alice:22'], { env: ENV });
    const line = await forwarder.waitForLog('forwarding');
    await forwarder.waitForLog('session ready');
    expect(line.target).toBe('alice:22');
    const [host, port] = String(line.listen).split(':');
    expect(host).toBe('127.0.0.1');
    const data = randomBytes(300_000);
    expect(await viaPort(host, Number(port), data)).toBe(expected(data));
  });

  it('node --forward --early-data: later connections send their first bytes with the open', async () => {
    const forwarder = runCli(
      ['node', '-s', tcp, '-d', 'carol', '--forward', '0=alice:22', '--early-data', '--log-level', 'debug'],
      { env: ENV },
    );
    const line = await forwarder.waitForLog('forwarding');
    await forwarder.waitForLog('session ready');
    const [host, port] = String(line.listen).split(':');
    const through = (data: Buffer): Promise<string> => viaPort(host, Number(port), data);
    const first = randomBytes(1000);
    expect(await through(first)).toBe(expected(first));
    // The first stream's ACK came through the switcher marked for early data.
    const on = await forwarder.waitForLog('early data on through the switcher');
    expect(on.domain).toBe('alice');
    for (const size of [10, 200_000]) {
      const data = randomBytes(size);
      expect(await through(data)).toBe(expected(data));
    }
  });

  it('node --forward --early-data: a refused early stream is logged once, with its code', async () => {
    const forwarder = runCli(
      ['node', '-s', tcp, '-d', 'dave', '--forward', '0=alice:22', '--forward', '0=alice:99', '--early-data'],
      { env: ENV },
    );
    const open = await forwarder.waitForLog('forwarding', (l) => l.target === 'alice:22');
    const refused = await forwarder.waitForLog('forwarding', (l) => l.target === 'alice:99');
    await forwarder.waitForLog('session ready');
    const at = (l: { [key: string]: unknown }): number => Number(String(l.listen).split(':')[1]);
    // The first dial to alice teaches the node that alice takes early data; the next one to a port
    // nobody listens on is accepted locally, then refused.
    const data = randomBytes(100);
    expect(await viaPort('127.0.0.1', at(open), data)).toBe(expected(data));
    const socket = net.connect({ host: '127.0.0.1', port: at(refused), allowHalfOpen: true });
    socket.write('early request');
    expect(await ending(socket)).toBe('ECONNRESET');
    const line = await forwarder.waitForLog('forwarded connection failed');
    expect(line).toMatchObject({ target: 'alice:99', code: 'FLEX_ERR_DIAL_REFUSED', level: 40 });
    expect(String(line.err)).toContain('alice:99');
    // The node's own 'early-data dial failed' used to come with it: one event, one line.
    expect(forwarder.logs.filter((l) => l.msg.startsWith('early-data dial failed'))).toEqual([]);
  });

  it('a reset on either side resets the other: a refused service and a client that aborts', async () => {
    const closedPort = await freePort();
    // A service that reads and never answers: only the client's abort can end its connection.
    let serviceSide: (how: string) => void = () => {};
    const serviceSaw = new Promise<string>((resolve) => {
      serviceSide = resolve;
    });
    let requestArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      requestArrived = resolve;
    });
    const silent = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('data', () => requestArrived());
      s.on('end', () => serviceSide('end'));
      s.on('error', (err: NodeJS.ErrnoException) => serviceSide(err.code ?? err.message));
    });
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const server = runCli(
      [
        'node',
        '-s',
        tcp,
        '-d',
        'erin',
        '-e',
        `23=127.0.0.1:${closedPort}`,
        '-e',
        `24=127.0.0.1:${silentPort}`,
      ],
      { env: ENV },
    );
    const forwarder = runCli(['node', '-s', tcp, '-d', 'frank', '-f', '0=erin:23', '-f', '0=erin:24'], {
      env: ENV,
    });
    await server.waitForLog('session ready');
    await forwarder.waitForLog('session ready');
    const port = async (target: string): Promise<number> =>
      Number(
        String((await forwarder.waitForLog('forwarding', (l) => l.target === target)).listen).split(':')[1],
      );

    // The service refuses: the stream is reset, and so is the forwarded connection; a FIN would
    // look like an empty answer.
    const refused = net.connect({ host: '127.0.0.1', port: await port('erin:23'), allowHalfOpen: true });
    refused.write('hello?');
    expect(await ending(refused)).toBe('ECONNRESET');
    await forwarder.waitForLog('forwarded connection failed');

    // The client aborts mid-request: the service must not take what came for the whole request.
    const aborted = net.connect({ host: '127.0.0.1', port: await port('erin:24'), allowHalfOpen: true });
    aborted.on('error', () => {});
    aborted.write('part of a request');
    await arrived;
    aborted.resetAndDestroy();
    expect(await serviceSaw).toBe('ECONNRESET');
    await server.waitForLog('exposed connection failed', (l) => l.port === 24);
  });

  it('exit codes: dial refused 4, wrong password 3, no switcher 6', async () => {
    const closedPort = await freePort();
    const [refused, rejected, nobody] = await Promise.all([
      runCliToEnd(['dial', 'alice:23', '-s', tcp], { env: ENV, input: '' }),
      runCliToEnd(['dial', 'alice:22', '-s', tcp], { env: { FLEXMUX_PASSWORD: 'wrong' }, input: '' }),
      runCliToEnd(['ping', '-s', `tcp://127.0.0.1:${closedPort}`], { env: ENV }),
    ]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('dial alice:23 refused: listener not found [FLEX_ERR_DIAL_REFUSED]');
    // Go's wire reason is kept for scripts; the next line says what it means for the user.
    expect(refused.stderr).toContain(
      "[FLEX_ERR_DIAL_REFUSED]\n(the domain's node is connected but serves nothing on that port: a flexmux node serves its --expose ports)\n",
    );

    expect(rejected.code).toBe(3);
    expect(rejected.stderr).toContain('[FLEX_ERR_ADMISSION_REJECTED]');
    expect(rejected.stderr.trim().split('\n')).toHaveLength(1);

    expect(nobody.code).toBe(6);
    expect(nobody.stderr).toContain('[FLEX_ERR_CONNECTION_CLOSED]');
  });

  it('ping prints RTTs and a ping(8) summary', async () => {
    const r = await runCliToEnd(['ping', 'alice', '-s', tcp, '-c', '3', '-i', '50ms'], { env: ENV });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PING alice via tcp:\/\/127\.0\.0\.1:\d+$/m);
    expect(r.stdout.match(/^reply from alice: seq=\d time=[\d.]+ ms$/gm)).toHaveLength(3);
    expect(r.stdout).toContain('--- alice ping statistics ---');
    expect(r.stdout).toMatch(/^3 transmitted, 3 received, 0% loss, time \d+ ms$/m);
    expect(r.stdout).toMatch(/^rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms$/m);
  });

  it('ping without a domain pings the switcher; an unknown domain exits 8', async () => {
    const [sw, lost] = await Promise.all([
      runCliToEnd(['ping', '-s', ws, '-c', '2', '-i', '0.05'], { env: ENV }),
      runCliToEnd(['ping', 'carol', '-s', tcp, '-c', '2', '-i', '0.05'], { env: ENV }),
    ]);
    expect(sw.code).toBe(0);
    expect(sw.stdout).toMatch(/^2 transmitted, 2 received, 0% loss/m);
    expect(sw.stdout).toContain('reply from switcher: seq=2');

    expect(lost.code).toBe(8);
    // The library's message names carol too ('ping carol failed: ...'): said once on the line.
    expect(lost.stdout).toContain('no reply from carol: seq=1: domain not found\n');
    expect(lost.stdout).toMatch(/^2 transmitted, 0 received, 100% loss/m);
    expect(lost.stdout).not.toContain('rtt min');
  });
});

describe('lifecycle', () => {
  it('SIGTERM and SIGINT stop the switcher and the node gracefully, exit 0', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const node = runCli(['node', '-s', sw.tcp, '-d', 'alice'], { env: ENV });
    await node.waitForLog('session ready');
    node.proc.kill('SIGINT');
    expect(await node.exited).toBe(0);
    await sw.child.waitForLog('client left', (l) => l.domain === 'alice');
    sw.child.proc.kill('SIGTERM');
    expect(await sw.child.exited).toBe(0);
    expect(sw.child.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping', 'switcher closed']));
  });

  // A node's graceful close ends each stream like a finished one: a connection cut off in the
  // middle would look complete at both ends, an upload to the service, a download to the client.
  it('a node stopped during transfers resets its tunnelled connections at both ends', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const seen: { service: Promise<string>[] } = { service: [] };
    const talker = net.createServer({ allowHalfOpen: true }, (s) => {
      seen.service.push(ending(s));
      // The service streams a download while it reads an upload.
      const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write('d'.repeat(100))), 20);
    });
    servers.push(talker);
    await new Promise<void>((resolve) => talker.listen(0, '127.0.0.1', resolve));
    const servicePort = (talker.address() as net.AddressInfo).port;
    const exposing = runCli(
      ['node', '-s', sw.tcp, '-d', 'alice', '-e', `22=127.0.0.1:${servicePort}`, '--log-level', 'debug'],
      { env: ENV },
    );
    const forwarding = runCli(['node', '-s', sw.tcp, '-d', 'bob', '-f', '0=alice:22'], { env: ENV });
    await exposing.waitForLog('session ready');
    await forwarding.waitForLog('session ready');
    const port = Number(String((await forwarding.waitForLog('forwarding')).listen).split(':')[1]);
    /** A client uploading while it downloads, once data flows; `ended` says how it ended. */
    const transfer = async (): Promise<{ ended: Promise<string> }> => {
      const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      const ended = ending(client);
      const timer = setInterval(
        () => (client.destroyed ? clearInterval(timer) : client.write('u'.repeat(100))),
        20,
      );
      await new Promise((resolve) => client.once('data', resolve));
      return { ended };
    };

    /** How `child` logged the end of the tunnel its peer's stop cut: a failure, or that stop. */
    const tunnelEnd = (child: typeof exposing, failed: string, after: number): Promise<string> =>
      Promise.race(
        [failed, 'tunnel cut: the peer is stopping'].map((msg) =>
          child.nextLog(msg, { after }).then((l) => `${l.level} ${l.msg}`),
        ),
      );

    // The forwarding node stops: the service must not take the upload for a whole one.
    const first = await transfer();
    const exposingMark = exposing.logs.length;
    forwarding.proc.kill('SIGTERM');
    expect(await forwarding.exited).toBe(0);
    expect(await seen.service[0]).toBe('ECONNRESET');
    expect(await first.ended).toBe('ECONNRESET');
    // Cut by its own shutdown, which its 'stopping' line says: not a failure to warn of, once
    // per tunnel (a node stopped with hundreds open wrote hundreds).
    expect(forwarding.logs.filter((l) => l.msg === 'forwarded connection failed')).toEqual([]);
    // Nor at the other end of the tunnel: the exposing node logged a warn line for each tunnel
    // the forwarding node's orderly stop reset (`the node is stopping`), as for a failure.
    expect(await tunnelEnd(exposing, 'exposed connection failed', exposingMark)).toBe(
      '20 tunnel cut: the peer is stopping',
    );

    // The exposing node stops: the client must not take the download for a whole one.
    const again = runCli(
      ['node', '-s', sw.tcp, '-d', 'bob', '-f', `${port}=alice:22`, '--log-level', 'debug'],
      {
        env: ENV,
      },
    );
    await again.waitForLog('session ready');
    const second = await transfer();
    const beforeStop = exposing.logs.length;
    const againMark = again.logs.length;
    exposing.proc.kill('SIGTERM');
    expect(await exposing.exited).toBe(0);
    expect(await second.ended).toBe('ECONNRESET');
    expect(await seen.service[1]).toBe('ECONNRESET');
    expect(exposing.logs.slice(beforeStop).filter((l) => l.msg === 'exposed connection failed')).toEqual([]);
    expect(await tunnelEnd(again, 'forwarded connection failed', againMark)).toBe(
      '20 tunnel cut: the peer is stopping',
    );
  });

  it('a switcher stopped during a transfer: the nodes log the tunnel it cut at debug, not as a failure', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const service = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    servers.push(service);
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    const servicePort = (service.address() as net.AddressInfo).port;
    const debug = ['--log-level', 'debug'];
    const alice = runCli(
      ['node', '-s', sw.tcp, '-d', 'alice', '-e', `22=127.0.0.1:${servicePort}`, ...debug],
      {
        env: ENV,
      },
    );
    const bob = runCli(['node', '-s', sw.tcp, '-d', 'bob', '-f', '0=alice:22', ...debug], { env: ENV });
    await alice.waitForLog('session ready');
    await bob.waitForLog('session ready');
    const port = Number(String((await bob.waitForLog('forwarding')).listen).split(':')[1]);
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const ended = ending(client);
    client.write('ping');
    await new Promise((resolve) => client.once('data', resolve));
    /** How `child` logged the end of the tunnel: a failure, or the switcher's stop. */
    const tunnelEnd = (child: typeof alice, failed: string, after: number): Promise<string> =>
      Promise.race(
        [failed, 'tunnel cut: the switcher is stopping'].map((msg) =>
          child.nextLog(msg, { after }).then((l) => `${l.level} ${l.msg}`),
        ),
      );
    const [aliceMark, bobMark] = [alice.logs.length, bob.logs.length];
    sw.child.proc.kill('SIGTERM');
    expect(await sw.child.exited).toBe(0);
    expect(await ended).toBe('ECONNRESET');
    // The stop is said once, as `session disconnected`; each tunnel was a warn line more.
    expect(await tunnelEnd(alice, 'exposed connection failed', aliceMark)).toBe(
      '20 tunnel cut: the switcher is stopping',
    );
    expect(await tunnelEnd(bob, 'forwarded connection failed', bobMark)).toBe(
      '20 tunnel cut: the switcher is stopping',
    );
  });

  it('a node reconnects by itself after the switcher restarts', async () => {
    const first = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const node = runCli(['node', '-s', first.tcp, '-d', 'alice', '--log-level', 'debug'], { env: ENV });
    await node.waitForLog('session ready');
    const down = node.logs.length;
    first.child.proc.kill('SIGTERM');
    await first.child.exited;
    const address = first.tcp.replace('tcp://', '');
    const second = await startSwitcher(['--tcp', address], ENV);
    await second.child.waitForLog('client admitted', (l) => l.domain === 'alice');
    await node.nextLog('session ready', { after: down });
    // One line for the lost connection, with the address it had: the node's own 'connection
    // closed' used to come with it.
    const lost = node.logs.filter((l) => l.msg === 'session disconnected');
    expect(lost).toHaveLength(1);
    expect(lost[0]?.remote).toBe(address);
    expect(node.logs.filter((l) => l.msg === 'connection closed')).toEqual([]);
  });

  it('a port in use exits 13', async () => {
    const blocker = net.createServer();
    servers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runCliToEnd(['switcher', '--tcp', `127.0.0.1:${port}`], { env: ENV });
    expect(r.code).toBe(13);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
  });
});

describe('TLS and secure WebSocket listeners', () => {
  it('serves tls:// and wss:// with --cert/--key; nodes verify with --ca', async () => {
    const sw = await startSwitcher(
      ['--tls', '127.0.0.1:0', '--wss', '127.0.0.1:0/secure', '--cert', CERT, '--key', KEY],
      ENV,
    );
    const tls = sw.urls.find((u) => u.startsWith('tls:')) ?? '';
    const wss = sw.urls.find((u) => u.startsWith('wss:')) ?? '';
    expect(wss).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/secure$/);
    const [viaTls, viaWss, untrusted, insecure] = await Promise.all([
      runCliToEnd(['ping', '-s', tls, '--ca', CERT, '-c', '1'], { env: ENV }),
      runCliToEnd(['ping', '-s', wss, '--ca', CERT, '-c', '1'], { env: ENV }),
      runCliToEnd(['ping', '-s', tls, '-c', '1'], { env: ENV }),
      runCliToEnd(['ping', '-s', wss, '--insecure', '-c', '1'], { env: ENV }),
    ]);
    for (const ok of [viaTls, viaWss, insecure]) {
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('1 transmitted, 1 received');
    }
    expect(untrusted.code).toBe(6);
    expect(untrusted.stderr).toContain('self-signed certificate');
  });
});

describe('defaults (what npm start runs)', () => {
  async function free(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  }

  it('with no flags: TCP 127.0.0.1:7000, WebSocket 127.0.0.1:7080/flex/ws, a generated password', async (ctx) => {
    if (!(await free(7000)) || !(await free(7080))) ctx.skip();
    const sw = await startSwitcher([], {});
    expect(sw.urls).toEqual(['tcp://127.0.0.1:7000', 'ws://127.0.0.1:7080/flex/ws']);
    const password = /the password for this run is:\n\n {4}(\S+)\n/.exec(sw.child.stderr)?.[1];
    expect(password).toMatch(/^[\w-]{24}$/);
    const r = await runCliToEnd(['ping', '-c', '1'], { env: { FLEXMUX_PASSWORD: password } });
    expect(r.code).toBe(0);
    const ws = await runCliToEnd(['ping', '-c', '1', '-s', 'ws://127.0.0.1:7080/flex/ws'], {
      env: { FLEXMUX_PASSWORD: password },
    });
    expect(ws.code).toBe(0);
  });
});

describe('switcher --demo', () => {
  it('serves the browser demo page and a WebSocket next to it', async () => {
    // Through tsx from src/: the demo builds its browser bundle from the source checkout.
    const sw = runCli(['switcher', '--tcp', '127.0.0.1:0', '--demo', '127.0.0.1:0'], {
      env: ENV,
      script: 'src/cli/main.ts',
    });
    const page = await sw.waitForLog('demo page');
    const res = await fetch(String(page.url));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<html');
    const r = await runCliToEnd(['ping', 'echo', '-c', '1', '-s', String(page.ws)], { env: ENV });
    expect(r.code).toBe(0);
  });

  it('exits 13 when its address cannot be listened on, as for the other listeners', async () => {
    // A link-local IPv6 address without a scope: the kernel refuses it (EINVAL), an errno exit.ts
    // does not list, so the demo's listen error used to exit 1 as an unexpected failure.
    const sw = runCli(['switcher', '--tcp', '127.0.0.1:0', '--demo', '[fe80::1]:0'], {
      env: ENV,
      script: 'src/cli/main.ts',
    });
    expect(await sw.exited).toBe(13);
    expect(sw.stderr).toMatch(
      /flexmux switcher: cannot listen on \[fe80::1\]:0 for the demo page: .* \[CLI_IO\]/,
    );
  });
});
