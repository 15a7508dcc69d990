import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Child processes for fault tests: a script run with `node --import tsx` (no build needed), whose
 * stdout lines the test waits on instead of sleeping, and which the test can SIGKILL. Every child
 * is remembered; `killChildren()` in afterEach ends the ones still running.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const running = new Set<ChildProcess>();

export interface Child {
  readonly proc: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** The first line (past or future) matching `re`, as its match. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  readonly exited: Promise<void>;
}

/** Runs `script` with `args`; `nodeArgs` go to node before it (`--max-http-header-size=...`). */
export function spawnScript(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): Child {
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let stderr = '';
  proc.stdout?.on('data', (c: Buffer) => {
    partial += String(c);
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of [...waiters]) w();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + String(c)).slice(-4_000);
  });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      running.delete(proc);
      for (const w of [...waiters]) w();
      resolve();
    });
  });
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  return {
    proc,
    lines,
    exited,
    waitFor(re, ms = 15_000) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = (): void => {
          for (const l of lines) {
            const m = l.match(re);
            if (m) {
              done();
              resolve(m);
              return;
            }
          }
          if (gone()) {
            done();
            reject(new Error(`${script} exited before printing ${re}; stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script} printed no ${re} within ${ms} ms; stderr: ${stderr}`));
        }, ms);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (!gone()) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** SIGKILLs every child still running and waits for each to exit. */
export async function killChildren(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(
    all.map((p) =>
      p.exitCode !== null || p.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => p.once('exit', () => resolve())),
    ),
  );
}

/**
 * Catches what would otherwise crash this process (an unhandled rejection is raised as an
 * uncaught exception under --unhandled-rejections=strict, the mode the test workers run in, and
 * under Node's default 'throw' mode). The test runner's own handlers are set aside meanwhile, so
 * a test can assert that nothing escaped instead of the whole run failing. Always `release()`.
 */
export function trapUncaught(): { readonly caught: unknown[]; release(): void } {
  type Handler = (err: unknown) => void;
  const emitter = process as unknown as {
    listeners(e: string): Handler[];
    removeAllListeners(e: string): unknown;
    removeListener(e: string, f: Handler): unknown;
    on(e: string, f: Handler): unknown;
  };
  const events = ['uncaughtException', 'unhandledRejection'];
  const saved = events.map((e) => [e, emitter.listeners(e)] as const);
  const caught: unknown[] = [];
  const mine: Handler = (err) => {
    caught.push(err);
  };
  for (const e of events) {
    emitter.removeAllListeners(e);
    emitter.on(e, mine);
  }
  let released = false;
  return {
    caught,
    release() {
      if (released) return;
      released = true;
      for (const [e, list] of saved) {
        emitter.removeListener(e, mine);
        for (const l of list) emitter.on(e, l);
      }
    },
  };
}
