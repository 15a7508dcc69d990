import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, runCli, startSwitcher } from '../helpers/cli.js';

/**
 * `flexmux dial` under ssh's ProxyCommand: the service behind the exposing node ends its side
 * (sshd killed: the kernel sends a FIN) while ssh keeps the dial's stdin open. ssh hears of it only
 * when the dial's stdout closes, that is when the process exits.
 */

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const ENV = { FLEXMUX_PASSWORD: 'test-password' };

/** How long a dial without the flag is watched, after it saw the remote's end, for not exiting. */
const STILL_RUNNING = 1_500;

interface Heard {
  /** What the service received on the connection before its end. */
  received: string;
  /** How the connection ended: the client's end (a FIN), or an error (a reset). */
  how: 'end' | 'error';
}

const heard: Heard[] = [];
const wakers = new Set<() => void>();
let server: net.Server | null = null;

/**
 * A TCP service that answers its client's first line with `bye\n` and ends its side at once,
 * then records what it got and how the client's side ended.
 */
async function byeServer(): Promise<number> {
  server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let received = '';
    let answered = false;
    const record = (how: Heard['how']): void => {
      heard.push({ received, how });
      for (const w of [...wakers]) w();
    };
    socket.on('error', () => record('error'));
    socket.on('end', () => {
      record('end');
      socket.destroy();
    });
    socket.on('data', (c: Buffer) => {
      received += String(c);
      if (!answered && received.includes('\n')) {
        answered = true;
        socket.end('bye\n');
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** The connections of `lateServer`, each ended when the test calls its function. */
const enders: (() => void)[] = [];
const enderWakers = new Set<() => void>();

/**
 * A TCP service that answers its client's first line with `bye\n` and ends its side only when
 * the test says so (`enderAt`): the remote's end comes after its reader has taken every byte.
 */
async function lateServer(): Promise<number> {
  late = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += String(c);
      if (!received.includes('\n') || received.includes('\0')) return;
      received += '\0';
      socket.write('bye\n');
      enders.push(() => socket.end());
      for (const w of [...enderWakers]) w();
    });
  });
  await new Promise<void>((resolve) => late!.listen(0, '127.0.0.1', resolve));
  return (late.address() as net.AddressInfo).port;
}
let late: net.Server | null = null;

/** Resolves with the function that ends the `n`th connection of `lateServer`. */
function enderAt(n: number): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const e = enders[n];
      if (e === undefined) return;
      enderWakers.delete(check);
      clearTimeout(timer);
      resolve(e);
    };
    const timer = setTimeout(() => {
      enderWakers.delete(check);
      reject(new Error(`no connection ${n} answered`));
    }, 30_000);
    enderWakers.add(check);
    check();
  });
}

/** Resolves with the `n`th connection's record, once the service has it (rejects after 30 s). */
function heardAt(n: number): Promise<Heard> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const h = heard[n];
      if (h === undefined) return;
      wakers.delete(check);
      clearTimeout(timer);
      resolve(h);
    };
    const timer = setTimeout(() => {
      wakers.delete(check);
      reject(new Error(`the service heard no end of connection ${n}`));
    }, 30_000);
    wakers.add(check);
    check();
  });
}

/** The exit code, or `running` when the child has not exited within `ms`. */
async function exitWithin(child: CliChild, ms: number): Promise<number | 'running'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'running'>((resolve) => {
    timer = setTimeout(() => resolve('running'), ms);
  });
  try {
    return await Promise.race([child.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  server?.close();
  late?.close();
});

describe('flexmux dial, the remote ending first while stdin stays open', () => {
  let tcp = '';

  beforeAll(async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true });
    tcp = sw.tcp;
    const port = await byeServer();
    const latePort = await lateServer();
    const node = runCli(
      [
        'node',
        '-s',
        tcp,
        '-d',
        'bye',
        '--expose',
        `22=127.0.0.1:${port}`,
        '--expose',
        `23=127.0.0.1:${latePort}`,
      ],
      { env: ENV, shared: true },
    );
    await node.waitForLog('session ready');
  });

  /** A dial of bye:22 that has sent `hi\n`, its stdin kept open, until `bye\n` is on its stdout. */
  async function dialBye(flags: string[]): Promise<CliChild> {
    const dial = runCli(['dial', 'bye:22', '-s', tcp, '--stats', '--log-level', 'info', ...flags], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdin = dial.proc.stdin;
    if (stdin === null) throw new Error('no stdin pipe');
    stdin.on('error', () => {});
    stdin.write('hi\n');
    await dial.waitForStdout('bye\n');
    return dial;
  }

  it('--exit-on-remote-end: ends its side (what it read is sent, no reset) and exits 0', async () => {
    const n = heard.length;
    const dial = await dialBye(['--exit-on-remote-end']);
    try {
      expect(await exitWithin(dial, 30_000)).toBe(0);
      expect(dial.stdout).toBe('bye\n');
      // A half-close, after the bytes read from stdin, not a reset.
      expect(await heardAt(n)).toEqual({ received: 'hi\n', how: 'end' });
      // Not `done:`: stdin was not read to its end. `sent` is what went, not what stdin held.
      expect(dial.stderr).not.toMatch(/^done:/m);
      expect(dial.stderr).toMatch(/^remote ended: sent 3 B \(.*\), received 4 B /m);
      expect(dial.stderr).not.toMatch(/^flexmux dial: /m);
    } finally {
      dial.proc.stdin?.destroy();
    }
  });

  it('without it, waits for stdin to end as before, then exits 0 with done:', async () => {
    const n = heard.length;
    const dial = await dialBye([]);
    const stdin = dial.proc.stdin!;
    try {
      await dial.waitForLog('remote ended');
      // The dial saw the remote's end; with stdin open it goes on running.
      expect(await exitWithin(dial, STILL_RUNNING)).toBe('running');
      stdin.end();
      expect(await exitWithin(dial, 30_000)).toBe(0);
      expect(await heardAt(n)).toEqual({ received: 'hi\n', how: 'end' });
      expect(dial.stderr).toMatch(/^done: sent 3 B \(.*\), received 4 B /m);
    } finally {
      stdin.destroy();
    }
  });

  // Found by the CLI leads hunt: once the remote's end came, the command checked that stdout had
  // taken its bytes by writing nothing to it. A stdout that is a socket (a parent's socketpair,
  // inetd's) whose reader had taken every byte and gone fails even an empty write with EPIPE: the
  // transfer, complete, was reset and exited 141 with "stdout was closed by its reader before the
  // transfer ended" on the terminal.
  it('--exit-on-remote-end: a reader that took every byte and left before the remote ended: exit 0', async () => {
    const n = enders.length;
    const dial = runCli(
      ['dial', 'bye:23', '-s', tcp, '--stats', '--log-level', 'info', '--exit-on-remote-end'],
      {
        env: ENV,
        stdin: 'pipe',
      },
    );
    const stdin = dial.proc.stdin!;
    stdin.on('error', () => {});
    try {
      stdin.write('hi\n');
      const end = await enderAt(n);
      await dial.waitForStdout('bye\n');
      // The reader has every byte the remote will send, and goes away (ssh's parent exiting).
      const stdout = dial.proc.stdout!;
      const gone = new Promise<void>((resolve) => stdout.once('close', () => resolve()));
      stdout.destroy();
      await gone;
      end();
      expect(await exitWithin(dial, 30_000)).toBe(0);
      expect(dial.stderr).not.toMatch(/^flexmux dial: /m);
      expect(dial.stderr).toMatch(/^remote ended: sent 3 B \(.*\), received 4 B /m);
    } finally {
      stdin.destroy();
    }
  });

  it('without it: a reader that took every byte and left, then stdin ended: exit 0 with done:', async () => {
    const n = enders.length;
    const dial = runCli(['dial', 'bye:23', '-s', tcp, '--stats', '--log-level', 'info'], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdin = dial.proc.stdin!;
    stdin.on('error', () => {});
    try {
      stdin.write('hi\n');
      const end = await enderAt(n);
      await dial.waitForStdout('bye\n');
      const stdout = dial.proc.stdout!;
      const gone = new Promise<void>((resolve) => stdout.once('close', () => resolve()));
      stdout.destroy();
      await gone;
      end();
      await dial.waitForLog('remote ended');
      stdin.end();
      expect(await exitWithin(dial, 30_000)).toBe(0);
      expect(dial.stderr).not.toMatch(/^flexmux dial: /m);
      expect(dial.stderr).toMatch(/^done: sent 3 B \(.*\), received 4 B /m);
    } finally {
      stdin.destroy();
    }
  });
});
