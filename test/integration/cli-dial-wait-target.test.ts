import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort, killAll, ROOT, runCli, runCliToEnd, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux dial --wait-for-target`: a dial made while its target's node is not back yet (a
 * switcher restarted a moment ago), or while the switcher itself is not up yet, waits for it
 * within --dial-timeout; without the flag, the refusal, or the failed connection, is the
 * command's result at once.
 */

// Each CLI process starts through a bundle: allow for a loaded machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const ENV = { FLEXMUX_PASSWORD: 'dial-wait-target' };
const servers: net.Server[] = [];
let tcp = '';

beforeAll(async () => {
  tcp = (await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true })).tcp;
});
afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  for (const s of servers.splice(0)) s.close();
});

/** A TCP echo service on 127.0.0.1; resolves with its port. */
async function echoService(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('flexmux dial --wait-for-target', () => {
  it('waits for a target whose node is not there yet and joins the stream once it is', async () => {
    const dial = runCli(
      ['dial', 'late:9', '-s', tcp, '--wait-for-target', '--dial-timeout', '60s', '--log-level', 'debug'],
      { env: ENV, stdin: 'pipe' },
    );
    // Refused at least once before the target's node exists.
    const waiting = await dial.waitForLog('dial waiting for its target');
    expect(waiting).toMatchObject({ target: 'late:9', err: 'dial late:9 refused: resolve domain failed' });
    const node = runCli(['node', '-s', tcp, '-d', 'late', '-e', `9=127.0.0.1:${await echoService()}`], {
      env: ENV,
    });
    await node.waitForLog('session ready');
    dial.proc.stdin?.end('hello');
    await dial.waitForStdout('hello');
    expect(await dial.exited).toBe(0);
  });

  it('runs out at --dial-timeout with exit 5, naming the last refusal', async () => {
    const r = await runCliToEnd(['dial', 'never:9', '-s', tcp, '--wait-for-target', '--dial-timeout', '1s'], {
      env: ENV,
      input: '',
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(
      'flexmux dial: dial never:9 timed out after 1000 ms waiting for its target; last refusal: dial never:9 refused: resolve domain failed [FLEX_ERR_DIAL_TIMEOUT]\n',
    );
  });

  it('without it, a target that is not there fails at once with exit 4', async () => {
    const r = await runCliToEnd(['dial', 'never:9', '-s', tcp, '--dial-timeout', '60s'], {
      env: ENV,
      input: '',
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      'dial never:9 refused: resolve domain failed [FLEX_ERR_DIAL_REFUSED]\n(no node holds that domain now: check the name, and that its node is connected; --wait-for-target waits for one that is coming)\n',
    );
  });
});

describe('flexmux dial --wait-for-target, the switcher down', () => {
  it('waits for a switcher that is not up yet, then for the target, and joins the stream', async () => {
    const port = await freePort();
    const url = `tcp://127.0.0.1:${port}`;
    const dial = runCli(
      ['dial', 'later:9', '-s', url, '--wait-for-target', '--dial-timeout', '60s', '--log-level', 'debug'],
      { env: ENV, stdin: 'pipe' },
    );
    // Refused at least once before the switcher exists. Before: exit 6 at this first failure.
    const failed = await dial.waitForLog('session attempt failed');
    expect(failed.err).toContain('ECONNREFUSED');
    await startSwitcher(['--tcp', `127.0.0.1:${port}`], ENV);
    const node = runCli(['node', '-s', url, '-d', 'later', '-e', `9=127.0.0.1:${await echoService()}`], {
      env: ENV,
    });
    await node.waitForLog('session ready');
    dial.proc.stdin?.end('hello');
    await dial.waitForStdout('hello');
    expect(await dial.exited).toBe(0);
  });

  it('runs out at --dial-timeout with exit 5, naming the switcher and the last attempt', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const r = await runCliToEnd(['dial', 'never:9', '-s', url, '--wait-for-target', '--dial-timeout', '1s'], {
      env: ENV,
      input: '',
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      new RegExp(
        `flexmux dial: dial never:9 timed out after 1000 ms waiting for the switcher ${url}; last attempt: .*ECONNREFUSED.* \\[FLEX_ERR_DIAL_TIMEOUT\\]\n`,
      ),
    );
  });

  it('does not wait out a refused admission (wrong password): exit 3 at once', async () => {
    const r = await runCliToEnd(
      ['dial', 'never:9', '-s', tcp, '--wait-for-target', '--dial-timeout', '60s'],
      {
        env: { FLEXMUX_PASSWORD: 'not-the-password' },
        input: '',
        // Well within --dial-timeout: one that waited would be killed, and the test failed, at 30 s.
        timeout: 30_000,
      },
    );
    expect(r.code).toBe(3);
  });

  it('without it, a switcher that is not there fails at once with exit 6', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const r = await runCliToEnd(['dial', 'never:9', '-s', url, '--dial-timeout', '60s'], {
      env: ENV,
      input: '',
      timeout: 30_000,
    });
    expect(r.code).toBe(6);
  });
});

describe('flexmux dial --wait-for-target, a switcher certificate not trusted', () => {
  // The test-only self-signed certificate: without --ca this client does not trust it.
  const CERT = `${ROOT}test/fixtures/tls/cert.pem`;
  const KEY = `${ROOT}test/fixtures/tls/key.pem`;

  it('fails at once with the certificate error (tls:// and wss://), not at --dial-timeout', async () => {
    const sw = await startSwitcher(
      ['--tls', '127.0.0.1:0', '--wss', '127.0.0.1:0/secure', '--cert', CERT, '--key', KEY],
      ENV,
    );
    const urls = ['tls:', 'wss:'].map((scheme) => sw.urls.find((u) => u.startsWith(scheme)) ?? '');
    const runs = await Promise.all(
      urls.map((url) =>
        runCliToEnd(
          // A password in the URL (ws:// and wss:// send it to a proxy) must not be shown.
          [
            'dial',
            'never:9',
            '-s',
            url.replace('//', '//user:secret@'),
            '--wait-for-target',
            '--dial-timeout',
            '10m',
          ],
          {
            env: ENV,
            input: '',
            // Far within --dial-timeout: before, the dial retried the handshake for all of it,
            // and was killed here, the test failing with 'did not exit'.
            timeout: 30_000,
          },
        ),
      ),
    );
    for (const [i, r] of runs.entries()) {
      expect(r.code).toBe(6);
      const shown = urls[i]!.replace('//', '//user:***@');
      expect(r.stderr).toContain(
        `flexmux dial: the certificate of the switcher ${shown} is not trusted, which waiting will not mend: `,
      );
      expect(r.stderr).toContain('self-signed certificate');
      expect(r.stderr).not.toContain('secret');
    }
  });

  it('ends `flexmux ping --wait-for-target` at once too', async () => {
    const sw = await startSwitcher(['--tls', '127.0.0.1:0', '--cert', CERT, '--key', KEY], ENV);
    const url = sw.urls.find((u) => u.startsWith('tls:')) ?? '';
    const r = await runCliToEnd(['ping', 'never', '-s', url, '--wait-for-target', '-W', '10m', '-c', '1'], {
      env: ENV,
      timeout: 30_000,
    });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`flexmux ping: the certificate of the switcher ${url} is not trusted`);
    expect(r.stderr).toContain('self-signed certificate');
  });
});
