import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cliBundle, cliEnv, ROOT } from '../helpers/cli.js';

/**
 * `flexmux switcher` in a real terminal that hangs up (the terminal window closed, an ssh
 * session dropped): the process must end, as SIGHUP ended it before the command took SIGHUP to
 * reload. util-linux's `script` gives the command a pseudo-terminal; killing `script` closes the
 * terminal's master side, which the kernel reports to the command as a hang-up (SIGHUP, and EIO
 * on writes to the terminal).
 */

vi.setConfig({ testTimeout: 30_000 });

/** `script`, and the /proc file that names its child (the switcher, to clean up after a failure). */
const hasScript =
  process.platform === 'linux' &&
  existsSync(`/proc/self/task/${process.pid}/children`) &&
  spawnSync('script', ['--version']).status === 0;

const started: ChildProcess[] = [];
const orphans: number[] = [];
afterEach(() => {
  // The switcher of a terminal still open (a test that failed before hanging it up) first.
  for (const p of started.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) orphans.push(...childrenOf(p.pid));
    p.kill('SIGKILL');
  }
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** The pids of `pid`'s children (none if it is gone). */
function childrenOf(pid: number | undefined): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(' ').map(Number);
  } catch {
    return [];
  }
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Resolves once `text` has appeared on `stream`, or rejects after `ms`. */
function seen(stream: Readable, text: string, ms: number): Promise<void> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`"${text}" not seen in: ${out}`)), ms);
    stream.on('data', (c: Buffer) => {
      out += String(c);
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/**
 * Runs `flexmux switcher ARGS` in a terminal of its own, its logs going there, until it is up;
 * then hangs the terminal up, and tells whether the switcher ended within 10 s. Its end is seen
 * as the end of a pipe that only it holds then (fd 3, inherited through `script`).
 */
async function endsOnHangUp(args: string[], env: Record<string, string | undefined>): Promise<boolean> {
  const command = ['exec', quote(process.execPath), quote(cliBundle()), 'switcher', ...args.map(quote)];
  const term = spawn('script', ['-qfec', command.join(' '), '/dev/null'], {
    cwd: ROOT,
    env: cliEnv({ FLEXMUX_PASSWORD: 'secret', ...env }),
    stdio: ['pipe', 'pipe', 'inherit', 'pipe'],
  });
  started.push(term);
  const life = term.stdio[3] as Readable;
  const ended = new Promise<boolean>((resolve) => {
    life.on('close', () => resolve(true));
    life.on('error', () => {});
    life.resume();
  });
  await seen(term.stdout!, 'switcher ready', 15_000);
  orphans.push(...childrenOf(term.pid));
  term.kill('SIGKILL');
  const bound = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    void ended.then(() => clearTimeout(timer));
  });
  return Promise.race([ended, bound]);
}

describe.skipIf(!hasScript)('flexmux switcher when its terminal hangs up', () => {
  it('ends, with the readable logs a terminal gets', async () => {
    // FLEXMUX_LOG_FORMAT unset: `auto`, pretty on a terminal (whose failed writes never threw).
    expect(await endsOnHangUp(['--tcp', '127.0.0.1:0'], { FLEXMUX_LOG_FORMAT: undefined })).toBe(true);
  });
});
