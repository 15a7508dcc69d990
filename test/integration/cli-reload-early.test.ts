import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CliChild, killAll, runCli } from '../helpers/cli.js';

/**
 * A SIGHUP that reaches `flexmux switcher` or `flexmux node` before the command has set up its
 * reload (`systemctl reload` right after `start`): the process must live on and reload once it is
 * up. The command is held at the start of its start-up by a config file that is a FIFO: the
 * process reads it (synchronously, as a start does) until the test writes it. Before, the
 * SIGHUP then took its default action and the process ended with 129.
 */

vi.setConfig({ testTimeout: 60_000 });

const hasFifo = process.platform !== 'win32' && spawnSync('mkfifo', ['--version']).status === 0;

const dirs: string[] = [];
afterEach(async () => {
  await killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * Starts `args` with a FIFO as `--config`, sends SIGHUP while the child reads it, then lets it
 * read `yaml`; what it reads again later is a plain file with the same text.
 */
async function sighupWhileReadingConfig(args: readonly string[], yaml: string): Promise<CliChild> {
  const dir = mkdtempSync(join(tmpdir(), 'flexmux-reload-early-'));
  dirs.push(dir);
  const config = join(dir, 'flexmux.yaml');
  expect(spawnSync('mkfifo', [config]).status).toBe(0);
  const child = runCli([...args, '--config', config], { env: { FLEXMUX_PASSWORD: 'p' } });
  // Opened once the child has it open too: it is now reading it, its start-up held there.
  const fifo = await open(config, 'w');
  try {
    child.proc.kill('SIGHUP');
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, yaml);
    await rename(plain, config);
    // A command that does not reload may be gone already, ended by the signal (EPIPE).
    await fifo.write(yaml).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  } finally {
    await fifo.close();
  }
  return child;
}

describe.skipIf(!hasFifo)('a SIGHUP before the command is up', () => {
  it.for([
    ['switcher', ['switcher', '--tcp', '127.0.0.1:0'], 'switcher ready', 'switcher: {}\n'],
    ['node', ['node', '-d', 'alice', '-s', 'tcp://127.0.0.1:1'], 'node started', 'node: {}\n'],
  ] as const)('%s: is held, then reloads once it is up', async ([, args, ready, yaml]) => {
    const child = await sighupWhileReadingConfig(args, yaml);
    await child.waitForLog(ready);
    const reloaded = await child.waitForLog('reloaded');
    expect(reloaded.failed).toEqual([]);
    expect(child.logs.find((l) => l.msg === 'reloading')).toMatchObject({ signal: 'SIGHUP' });
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });

  it('dial: still ends the command, as SIGHUP does (129)', async () => {
    // The hold is given back once the command is known (before its config file is read here):
    // kept, the dial would fail on its own instead, no switcher listening on port 1.
    const args = ['dial', 'bob:22', '-s', 'tcp://127.0.0.1:1'];
    const child = await sighupWhileReadingConfig(args, 'dial: {}\n');
    expect(await child.exited).toBe(129);
  });
});
