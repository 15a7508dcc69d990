import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, runCli, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux dial` with a TCP connection as its stdin and stdout, as inetd or systemd's
 * `Accept=yes` run it: a forwarder from a plain TCP port. The client at the far end of that
 * connection can reset it, and reading stdin then fails.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const ENV = { FLEXMUX_PASSWORD: 'test-password' };

const servers: net.Server[] = [];

/** A TCP service that greets its client and keeps the connection open. */
async function greeter(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.resume();
    socket.write('hello\n');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A TCP service that sends without end, as fast as its reader takes it. */
async function endless(): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const fill = (): void => {
      while (!socket.destroyed && socket.write(chunk)) {}
    };
    socket.on('drain', fill);
    fill();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * A port whose connections each run `flexmux dial ARGS` on their socket, as inetd does; resolves
 * with the port and the dial of the first connection, once there is one.
 */
async function inetd(
  args: string[],
  o: { stdin: boolean } = { stdin: true },
): Promise<{ port: number; dial: Promise<CliChild> }> {
  let started: (d: CliChild) => void = () => {};
  const dial = new Promise<CliChild>((resolve) => {
    started = resolve;
  });
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    started(runCli(args, { env: ENV, stdin: o.stdin ? socket : 'ignore', stdout: socket }));
    // The child holds its own copy of the connection: this one only closes the descriptor here.
    socket.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, dial };
}

afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  for (const s of servers.splice(0)) s.close();
});

describe('flexmux dial on a socket, as inetd runs it', () => {
  let tcp = '';

  beforeAll(async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true });
    tcp = sw.tcp;
    const port = await greeter();
    const flood = await endless();
    const node = runCli(
      [
        'node',
        '-s',
        tcp,
        '-d',
        'greeter',
        '--expose',
        `7=127.0.0.1:${port}`,
        '--expose',
        `8=127.0.0.1:${flood}`,
      ],
      { env: ENV, shared: true },
    );
    await node.waitForLog('session ready');
  });

  // Unheard, the read's 'error' ended the process with Node's stack trace, exit 1.
  it('a client that resets the connection: exit 13 and one line naming stdin, no crash', async () => {
    const { port, dial } = await inetd(['dial', 'greeter:7', '-s', tcp]);
    const client = net.connect({ host: '127.0.0.1', port });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('data', resolve));
    client.resetAndDestroy();
    const child = await dial;
    expect(await child.exited, child.stderr).toBe(13);
    expect(child.stderr).toMatch(
      /^flexmux dial: stdin failed before the transfer ended: read ECONNRESET \[CLI_IO\]$/m,
    );
    expect(child.stderr).not.toContain("Unhandled 'error'");
  });

  // A socket's reader that resets it fails the write with ECONNRESET, not EPIPE: that exited 1,
  // an unexpected failure, saying `write ECONNRESET` and nothing of stdout.
  it('a client that resets the connection while dial writes to it: exit 141, stdout named', async () => {
    // stdin elsewhere: the failed write, not a failed read, is what ends the command.
    const { port, dial } = await inetd(['dial', 'greeter:8', '-s', tcp], { stdin: false });
    const client = net.connect({ host: '127.0.0.1', port });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('data', resolve));
    client.resetAndDestroy();
    const child = await dial;
    expect(await child.exited, child.stderr).toBe(141);
    expect(child.stderr).toMatch(
      /^flexmux dial: stdout was closed by its reader before the transfer ended: write (ECONNRESET|EPIPE) \[CLI_OUTPUT_CLOSED\]$/m,
    );
  });
});
