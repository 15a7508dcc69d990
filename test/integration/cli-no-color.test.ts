import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cliBundle, cliEnv, ROOT } from '../helpers/cli.js';

/**
 * The readable logs a terminal gets are coloured, unless NO_COLOR is set (no-color.org): util-linux's
 * `script` gives the command a pseudo-terminal, as in cli-hangup.test.ts.
 */

vi.setConfig({ testTimeout: 30_000 });

const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `flexmux ARGS` in a terminal of its own; resolves with what the terminal showed. */
function inTerminal(args: string[], env: Record<string, string | undefined>): Promise<string> {
  const command = ['exec', quote(process.execPath), quote(cliBundle()), ...args.map(quote)];
  const term = spawn('script', ['-qfec', command.join(' '), '/dev/null'], {
    cwd: ROOT,
    // FLEXMUX_LOG_FORMAT unset: `auto`, pretty on a terminal.
    env: cliEnv({ FLEXMUX_PASSWORD: 'secret', FLEXMUX_LOG_FORMAT: undefined, ...env }),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  term.stdout.on('data', (c: Buffer) => {
    out += String(c);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      term.kill('SIGKILL');
      reject(new Error(`still running: ${out}`));
    }, 20_000);
    term.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

// A node whose --admin port is taken: it logs a warning (no --expose or --forward), then exits 13.
let busy: net.Server;
let port = 0;
beforeAll(async () => {
  busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  port = (busy.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

describe.skipIf(!hasScript)('logs on a terminal', () => {
  const args = (): string[] => [
    'node',
    '-d',
    'colours',
    '-s',
    'tcp://127.0.0.1:1',
    '--admin',
    `127.0.0.1:${port}`,
  ];
  const ESC = '\x1b[';

  it('are coloured by default', async () => {
    const out = await inTerminal(args(), { NO_COLOR: undefined });
    expect(out).toContain('nothing to expose or forward');
    expect(out).toContain(ESC);
  });

  it('are not with NO_COLOR set', async () => {
    const out = await inTerminal(args(), { NO_COLOR: '1' });
    expect(out).toContain('nothing to expose or forward');
    expect(out).not.toContain(ESC);
  });
});
