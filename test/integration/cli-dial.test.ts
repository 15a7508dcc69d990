import { execFileSync, spawn } from 'node:child_process';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, runCli, startSwitcher } from '../helpers/cli.js';

/** `flexmux dial` as a script uses it: signals while its stdout is not being read. */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const ENV = { FLEXMUX_PASSWORD: 'test-password' };

/** What a Linux pipe holds unread by default: 16 pages. */
const PIPE_CAPACITY = 16 * Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
const servers: net.Server[] = [];

/** A TCP service that sends without end, as fast as its reader takes it. */
async function endlessServer(): Promise<number> {
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

/** A TCP service that reads and drops whatever it is sent. */
async function drainServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.resume();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A TCP service that sends `size` bytes and ends its side at once. */
async function sizedServer(size: number): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.resume();
    socket.end(Buffer.alloc(size, 0x62));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * A TCP service that sends a greeting, then resets the connection (RST) at the first bytes its
 * client sends, the connection still open both ways.
 */
async function resetServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write('hello\n');
    socket.once('data', () => socket.resetAndDestroy());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

interface StalledReader {
  /** The pipe's write end, for a child's stdout: close it once the child has its copy. */
  writeEnd: FileHandle;
  /** The reader exits, closing the pipe's read end. */
  leave(): void;
  /** Kills the reader if it still runs, and removes the FIFO. */
  dispose(): Promise<void>;
}

/**
 * A real pipe, as a shell makes for `|` (a child's 'pipe' stdio is a socket pair, which holds far
 * more): a FIFO. Its reader takes one read of at most 100 bytes (dd without fullblock), then
 * holds the pipe open without reading until it leaves: `head -c 100`, slow to exit.
 */
async function stalledReader(): Promise<StalledReader> {
  const dir = await mkdtemp(join(tmpdir(), 'flexmux-dial-'));
  const fifo = join(dir, 'out');
  execFileSync('mkfifo', [fifo]);
  const script = 'exec <"$0"; dd bs=100 count=1 of=/dev/null 2>/dev/null; exec sleep 600';
  const reader = spawn('sh', ['-c', script, fifo], { stdio: 'ignore' });
  const gone = new Promise<void>((resolve) => reader.once('close', () => resolve()));
  const dispose = async (): Promise<void> => {
    reader.kill('SIGKILL');
    await gone;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Opens once the reader has opened its end (off the event loop: it blocks until then).
    const writeEnd = await open(fifo, 'w');
    return { writeEnd, leave: () => reader.kill('SIGKILL'), dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/**
 * The child's exit code, once it exits within `ms`; rejects otherwise. For a child whose stdout
 * is held by a stalled reader (600 s): awaiting `exited` alone, a dial that went on waiting for
 * that reader failed only at the test's timeout, and the `finally` that kills the reader and
 * removes the FIFO never ran.
 */
async function exitedWithin(child: CliChild, ms: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms later: ${child.stderr}`)), ms);
  });
  try {
    return await Promise.race([child.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once the child's stderr matches `pattern` (rejects after `timeout` ms). */
function stderrMatch(child: CliChild, pattern: RegExp, timeout = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!pattern.test(child.stderr)) return;
      clearTimeout(timer);
      child.proc.stderr?.off('data', check);
      resolve();
    };
    const timer = setTimeout(() => {
      child.proc.stderr?.off('data', check);
      reject(new Error(`stderr did not match ${pattern}:\n${child.stderr}`));
    }, timeout);
    // Registered after the helper's own listener, so `child.stderr` already holds the chunk.
    child.proc.stderr?.on('data', check);
    check();
  });
}

afterEach(() => killAll());
afterAll(async () => {
  await killAll(true);
  for (const s of servers.splice(0)) s.close();
});

describe('flexmux dial', () => {
  let tcp = '';

  beforeAll(async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV, { shared: true });
    tcp = sw.tcp;
    const port = await endlessServer();
    const drain = await drainServer();
    const reset = await resetServer();
    const sized = await sizedServer(PIPE_CAPACITY + 4096);
    const node = runCli(
      [
        'node',
        '-s',
        tcp,
        '-d',
        'source',
        '--expose',
        `9=127.0.0.1:${port}`,
        '--expose',
        `10=127.0.0.1:${drain}`,
        '--expose',
        `11=127.0.0.1:${reset}`,
        '--expose',
        `12=127.0.0.1:${sized}`,
      ],
      { env: ENV, shared: true },
    );
    await node.waitForLog('session ready');
  });

  it('SIGTERM exits 143 at once, also when nobody reads its stdout any more', async () => {
    const dial = runCli(['dial', 'source:9', '-s', tcp, '--stats', '--stats-interval', '100ms'], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdout = dial.proc.stdout;
    if (stdout === null) throw new Error('no stdout pipe');
    await dial.waitForStdout('aaaa');
    // The reader stops: the pipe fills, and what dial writes next waits in its stdout buffer.
    stdout.pause();
    // A progress line with nothing received in its interval: the transfer is held up by stdout.
    await stderrMatch(dial, /received [^(]+\(0 B\/s\)/);
    // 'close' waits for the paused stdout; 'exit' is the process ending.
    const exited = new Promise<number | null>((resolve) => dial.proc.once('exit', (code) => resolve(code)));
    dial.proc.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still running 10 s after SIGTERM'), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    stdout.resume();
    expect(code).toBe(143);
    expect(dial.stderr).toContain('flexmux dial: interrupted by SIGTERM [CLI_INTERRUPTED]');
  });

  it('a reader that closes stdout early (`| head -c`): no done:, the output named, exit 141', async () => {
    const dial = runCli(['dial', 'source:9', '-s', tcp, '--stats', '--stats-interval', '100ms'], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdout = dial.proc.stdout;
    if (stdout === null) throw new Error('no stdout pipe');
    dial.proc.stdin?.on('error', () => {});
    await dial.waitForStdout('aaaa');
    // `head -c 4` has what it wanted and exits: the pipe's read end closes under dial.
    stdout.destroy();
    expect(await dial.exited).toBe(141);
    dial.proc.stdin?.destroy();
    expect(dial.stderr).not.toMatch(/^done:/m);
    const error = dial.stderr.search(
      /^flexmux dial: stdout was closed by its reader .*\[CLI_OUTPUT_CLOSED\]$/m,
    );
    expect(error).toBeGreaterThanOrEqual(0);
    // The summary, then the error: the summary itself says the transfer did not end well.
    const summary = dial.stderr.search(/^failed: sent /m);
    expect(summary, dial.stderr).toBeGreaterThanOrEqual(0);
    expect(summary).toBeLessThan(error);
  });

  // `flexmux dial --stats X 2>&1 | head -c N`: the summary met the same closed pipe on stderr, and
  // its EPIPE, unheard, ended the process with exit 1 instead of 141.
  it('a reader that closes both stdout and stderr (`2>&1 | head -c`): still exit 141', async () => {
    const dial = runCli(['dial', 'source:9', '-s', tcp, '--stats', '--stats-interval', '100ms'], {
      env: ENV,
      stdin: 'pipe',
    });
    dial.proc.stdin?.on('error', () => {});
    await dial.waitForStdout('aaaa');
    dial.proc.stderr?.destroy();
    dial.proc.stdout?.destroy();
    expect(await dial.exited).toBe(141);
    dial.proc.stdin?.destroy();
  });

  // `flexmux dial X > file` on a disk that fills up: ENOSPC went out as it was, exit 1 (an
  // unexpected failure) in a line that did not name stdout.
  it('a stdout that fails (a full disk): exit 13, stdout named', async () => {
    const full = await open('/dev/full', 'w');
    let dial: CliChild;
    try {
      dial = runCli(['dial', 'source:9', '-s', tcp], { env: ENV, stdin: 'pipe', stdout: full.fd });
    } finally {
      await full.close();
    }
    dial.proc.stdin?.on('error', () => {});
    expect(await dial.exited, dial.stderr).toBe(13);
    dial.proc.stdin?.destroy();
    expect(dial.stderr).toMatch(
      /^flexmux dial: stdout failed before the transfer ended: ENOSPC: .*\[CLI_IO\]$/m,
    );
  });

  /**
   * `dial source:12` (4 KiB more than a pipe holds) into a stalled reader, until the stream has
   * ended both ways with part of what it brought still queued in dial for the pipe.
   */
  async function dialIntoStalledReader(): Promise<{ dial: CliChild; reader: StalledReader }> {
    const reader = await stalledReader();
    try {
      const dial = runCli(['dial', 'source:12', '-s', tcp, '--stats', '--log-level', 'info'], {
        env: ENV,
        stdout: reader.writeEnd.fd,
      });
      // dial has its own copy of the write end; the reader's leaving must reach that one alone.
      await reader.writeEnd.close();
      const closed = await dial.waitForLog('stream closed');
      // The race, set up: every byte went both ways, part of them still queued for the pipe.
      expect(closed.pendingOutput).toBeGreaterThan(0);
      return { dial, reader };
    } catch (err) {
      await reader.writeEnd.close().catch(() => {});
      await reader.dispose();
      throw err;
    }
  }

  it('a reader that closes stdout after the stream ended, before its tail went out: 141, not 0', async () => {
    const { dial, reader } = await dialIntoStalledReader();
    try {
      reader.leave();
      expect(await exitedWithin(dial, 10_000)).toBe(141);
      expect(dial.stderr).not.toMatch(/^done:/m);
      const error = dial.stderr.search(
        /^flexmux dial: stdout was closed by its reader .*\[CLI_OUTPUT_CLOSED\]$/m,
      );
      expect(error).toBeGreaterThanOrEqual(0);
      const summary = dial.stderr.search(/^failed: sent 0 B .*, received /m);
      expect(summary, dial.stderr).toBeGreaterThanOrEqual(0);
      expect(summary).toBeLessThan(error);
    } finally {
      await reader.dispose();
    }
  });

  it('Ctrl-C while the tail waits for a stalled reader: exit 130, interrupted, not done', async () => {
    // No clock cuts a slow reader's tail off: the wait for it ends as `cat`'s does, by a signal,
    // at once (the session's close is bounded by 1 s), not when the reader leaves (600 s).
    const { dial, reader } = await dialIntoStalledReader();
    try {
      dial.proc.kill('SIGINT');
      expect(await exitedWithin(dial, 10_000)).toBe(130);
      expect(dial.stderr).not.toMatch(/^done:/m);
      expect(dial.stderr).toMatch(/^interrupted: sent 0 B .*, received /m);
      expect(dial.stderr).toContain('flexmux dial: interrupted by SIGINT [CLI_INTERRUPTED]');
    } finally {
      await reader.dispose();
    }
  });

  it('SIGINT during an upload: the --stats summary says interrupted, not done', async () => {
    const dial = runCli(['dial', 'source:10', '-s', tcp, '--stats', '--stats-interval', '100ms'], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdin = dial.proc.stdin;
    if (stdin === null) throw new Error('no stdin pipe');
    // `head -c 200M /dev/zero |`: stdin never runs dry while the test is waiting.
    const chunk = Buffer.alloc(64 * 1024);
    stdin.on('error', () => {});
    const fill = (): void => {
      while (!stdin.destroyed && stdin.write(chunk)) {}
    };
    stdin.on('drain', fill);
    fill();
    // A progress line with bytes sent: the stream is open and moving.
    await stderrMatch(dial, /^sent [1-9]/m);
    dial.proc.kill('SIGINT');
    expect(await dial.exited).toBe(130);
    stdin.off('drain', fill);
    expect(dial.stderr).toContain('flexmux dial: interrupted by SIGINT [CLI_INTERRUPTED]');
    expect(dial.stderr).not.toMatch(/^done:/m);
    // The summary, then the error: the summary itself says the transfer was cut short.
    const summary = dial.stderr.search(/^interrupted: sent [1-9]/m);
    expect(summary, dial.stderr).toBeGreaterThanOrEqual(0);
    expect(summary).toBeLessThan(dial.stderr.indexOf('flexmux dial: interrupted by SIGINT'));
  });

  it('a transfer the peer resets: the --stats summary says failed, not done', async () => {
    // stdin stays open: the dial ends by the reset, not by its own end.
    const dial = runCli(['dial', 'source:11', '-s', tcp, '--stats', '--stats-interval', '100ms'], {
      env: ENV,
      stdin: 'pipe',
    });
    const stdin = dial.proc.stdin;
    if (stdin === null) throw new Error('no stdin pipe');
    stdin.on('error', () => {});
    // Sent once the greeting is through, so the reset cannot overtake it.
    await dial.waitForStdout('hello\n');
    stdin.write('hi\n');
    const code = await dial.exited;
    stdin.destroy();
    expect(code).not.toBe(0);
    const error = dial.stderr.search(/^flexmux dial: /m);
    expect(error).toBeGreaterThanOrEqual(0);
    expect(dial.stderr).not.toMatch(/^(done|interrupted):/m);
    // The summary, then the error: the summary itself says the transfer failed.
    const summary = dial.stderr.search(/^failed: sent 3 B \(.*\), received 6 B /m);
    expect(summary, dial.stderr).toBeGreaterThanOrEqual(0);
    expect(summary).toBeLessThan(error);
  });
});

describe('flexmux dial when its switcher goes away mid-transfer', () => {
  it('exits 6 naming the switcher and why, not only "connection closed"', async () => {
    const sw = await startSwitcher(['--tcp', '127.0.0.1:0'], ENV);
    const port = await drainServer();
    const node = runCli(['node', '-s', sw.tcp, '-d', 'sink', '--expose', `10=127.0.0.1:${port}`], {
      env: ENV,
    });
    await node.waitForLog('session ready');
    // stdin kept open: the transfer is under way when the switcher is killed.
    const dial = runCli(['dial', 'sink:10', '-s', sw.tcp, '--log-level', 'info'], {
      env: ENV,
      stdin: 'pipe',
    });
    await dial.waitForLog('stream open');
    sw.child.proc.kill('SIGKILL');
    expect(await exitedWithin(dial, 30_000)).toBe(6);
    // Why is the runtime's word for how the socket ended: a close, most often; a reset if the
    // killed switcher held unread bytes.
    expect(dial.stderr).toMatch(
      new RegExp(
        `^flexmux dial: lost the connection to the switcher ${sw.tcp}: .+ \\[FLEX_ERR_CONNECTION_CLOSED\\]$`,
        'm',
      ),
    );
  });
});
