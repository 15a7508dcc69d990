import { type ChildProcess, spawn } from 'node:child_process';
import { renameSync } from 'node:fs';
import * as net from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './bundle.js';

/**
 * Runs the flexmux CLI as a child process, with JSON logs on stderr that tests wait on instead of
 * sleeping. The CLI is src/cli/main.ts bundled once per test worker with esbuild (dependencies
 * left to node_modules): the same code as dist/cli/main.js, without a tsc build, and starting in
 * a fraction of the time tsx takes. Every child started here is
 * remembered: call `killAll()` in afterEach, and `killAll(true)` in afterAll when a beforeAll
 * started shared children with `{ shared: true }`.
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Two levels below the root, like dist/cli/main.js, so the CLI finds package.json the same way. */
const BUNDLE = join(ROOT, 'test-results', 'cli-bundle', 'main.mjs');
let bundled = false;

/**
 * Bundles the CLI once per test worker. Each worker writes its own file and renames it into
 * place: the rename is atomic, so a worker never starts a half-written bundle of another one.
 */
export function cliBundle(): string {
  if (!bundled) {
    const own = `${BUNDLE}.${process.pid}.tmp`;
    bundleForNode(join(ROOT, 'src/cli/main.ts'), own);
    renameSync(own, BUNDLE);
    bundled = true;
  }
  return BUNDLE;
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CliChild {
  proc: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Every stderr line that parsed as a JSON log object. */
  readonly logs: LogLine[];
  /**
   * Resolves with the first log line (past or future) whose msg is `msg` and that passes `where`.
   * Waiting again for the same message returns the same line at once: see `nextLog`.
   */
  waitForLog(msg: string, where?: (l: LogLine) => boolean, timeout?: number): Promise<LogLine>;
  /**
   * Like `waitForLog`, among the lines logged after the first `after` ones only (default: the lines
   * there at the call), for a message that comes again (`reloaded` after each SIGHUP, `session
   * ready` after each reconnection). Waiting begins after an await of the action that logs it
   * (the line may be in already): take `logs.length` before the action and pass it as `after`.
   */
  nextLog(
    msg: string,
    o?: { after?: number; where?: (l: LogLine) => boolean; timeout?: number },
  ): Promise<LogLine>;
  /** Resolves once stdout contains `text`. */
  waitForStdout(text: string, timeout?: number): Promise<void>;
  /** Resolves with the exit code (or 128 + n for a signal) when the process has ended. */
  readonly exited: Promise<number>;
}

const children = new Set<ChildProcess>();
const shared = new Set<ChildProcess>();

/** A clean environment: no FLEXMUX_* from the developer's shell, JSON logs. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FLEXMUX_')) env[k] = v;
  env.FLEXMUX_LOG_FORMAT = 'json';
  env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runCli(
  args: readonly string[],
  o: {
    env?: Record<string, string | undefined>;
    /** The child's stdin: nothing (the default), a pipe written here, or a socket (as inetd's). */
    stdin?: 'pipe' | 'ignore' | net.Socket;
    /**
     * Where the child's stdout goes: a pipe read here (the default), or this file descriptor (the
     * write end of a FIFO another process reads, for a reader whose reads the test chooses), or
     * a socket (as inetd's).
     */
    stdout?: number | net.Socket;
    /** Run this TypeScript file through tsx instead of the CLI (examples). */
    script?: string;
    shared?: boolean;
    /** Run under this open-file limit (soft and hard), through util-linux's prlimit. */
    nofile?: number;
  } = {},
): CliChild {
  const node = [
    process.execPath,
    ...(o.script === undefined ? [cliBundle(), ...args] : ['--import', 'tsx', o.script, ...args]),
  ];
  const [cmd, ...argv] =
    o.nofile === undefined ? node : ['prlimit', `--nofile=${o.nofile}:${o.nofile}`, '--', ...node];
  const proc = spawn(cmd!, argv, {
    cwd: ROOT,
    env: cliEnv(o.env),
    stdio: [o.stdin ?? 'ignore', o.stdout ?? 'pipe', 'pipe'],
  });
  children.add(proc);
  if (o.shared) shared.add(proc);
  let stdout = '';
  let stderr = '';
  let partial = '';
  const logs: LogLine[] = [];
  const wakers = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...wakers]) w();
  };
  proc.stdout?.on('data', (c: Buffer) => {
    stdout += String(c);
    wake();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += String(c);
    partial += String(c);
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    }
    wake();
  });
  // Set before the waiters wake, so that a wait for output the process never gave fails now.
  let ended = false;
  const exited = new Promise<number>((resolve) => {
    proc.on('close', (code, signal) => {
      children.delete(proc);
      shared.delete(proc);
      ended = true;
      resolve(code ?? 128 + (signal === null ? 15 : constants.signals[signal]));
      wake();
    });
  });
  const until = <T>(what: string, check: () => T | undefined, timeout: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const poll = (): void => {
        const v = check();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (ended) {
          done();
          reject(new Error(`process exited before ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeout);
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(poll);
      };
      wakers.add(poll);
      poll();
    });
  return {
    proc,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    logs,
    exited,
    waitForLog: (msg, where = () => true, timeout = 45_000) =>
      until(`log "${msg}"`, () => logs.find((l) => l.msg === msg && where(l)), timeout),
    nextLog: (msg, { after = logs.length, where = () => true, timeout = 45_000 } = {}) =>
      until(
        `log "${msg}" after the first ${after} lines`,
        () => logs.find((l, i) => i >= after && l.msg === msg && where(l)),
        timeout,
      ),
    waitForStdout: (text, timeout = 45_000) =>
      until(`stdout "${text}"`, () => (stdout.includes(text) ? true : undefined), timeout).then(() => {}),
  };
}

/** Runs to completion and returns the code and output; killed (and the test failed) after `timeout`. */
export async function runCliToEnd(
  args: readonly string[],
  o: { env?: Record<string, string | undefined>; input?: Buffer | string; timeout?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = runCli(args, { env: o.env, stdin: o.input === undefined ? 'ignore' : 'pipe' });
  if (o.input !== undefined) child.proc.stdin?.end(o.input);
  const timeout = o.timeout ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    child.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.proc.kill('SIGKILL');
        reject(new Error(`flexmux ${args.join(' ')} did not exit\nstderr:\n${child.stderr}`));
      }, timeout);
    }),
  ]).finally(() => clearTimeout(timer));
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** Kills the children still running, except shared ones unless `includeShared`. */
export async function killAll(includeShared = false): Promise<void> {
  const live = [...children].filter((p) => includeShared || !shared.has(p));
  await Promise.all(
    live.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) {
            resolve();
            return;
          }
          p.once('close', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}

/** A switcher on OS-chosen ports; resolves with its URLs once it logged 'switcher ready'. */
export async function startSwitcher(
  args: readonly string[] = ['--tcp', '127.0.0.1:0', '--ws', '127.0.0.1:0'],
  env: Record<string, string | undefined> = { FLEXMUX_PASSWORD: 'test-password' },
  o: { shared?: boolean } = {},
): Promise<{ child: CliChild; urls: string[]; tcp: string; ws: string }> {
  const child = runCli(['switcher', ...args], { env, shared: o.shared });
  const ready = await child.waitForLog('switcher ready');
  const urls = ready.listeners as string[];
  return {
    child,
    urls,
    tcp: urls.find((u) => u.startsWith('tcp:')) ?? '',
    ws: urls.find((u) => u.startsWith('ws:')) ?? '',
  };
}

export { freePort } from './ports.js';

/** Resolves once 127.0.0.1:`port` accepts a connection (retrying refused attempts until `timeout`). */
export async function waitForPort(port: number, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} did not open within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Keys that appear more than once at the top level of one JSON log line. `JSON.parse` keeps the
 * last silently, so a field a call site repeats (one the logger adds on its own too) is invisible
 * to tests that only look at parsed lines.
 */
export function repeatedLogKeys(line: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const text = line.slice(i + 1, j);
      i = j;
      // A string at depth 1 followed by ':' is a top-level key.
      if (depth === 1 && line[j + 1] === ':') {
        if (seen.has(text)) repeated.push(text);
        seen.add(text);
      }
    }
  }
  return repeated;
}
