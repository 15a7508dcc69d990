import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The CLI loads pino-pretty only for readable logs, yaml only with a config file and the admin
 * module (prom-client) only with --admin, so a command whose logs go to a pipe starts without
 * them. Checked in child processes that print, on exit, which packages the CLI loaded. The CLI is
 * bundled with code splitting so that its dynamic imports stay lazy, as in dist/.
 */

// A file path, not URL.pathname: that one is percent-encoded (a space in the checkout's path is %20).
const root = fileURLToPath(new URL('../../../', import.meta.url));
// Two levels below the root, like dist/cli/main.js, so the CLI finds package.json.
const dir = join(root, 'test-results', `cli-lazy-${process.pid}`);
const preload = join(dir, 'report.cjs');
const run = promisify(execFile);

const HEAVY = ['pino-pretty', 'yaml', 'prom-client'] as const;

/** Runs the CLI with `args`; resolves with its exit code and the heavy packages it loaded. */
async function loaded(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; packages: string[] }> {
  const r = await run(process.execPath, ['--require', preload, join(dir, 'main.js'), ...args], {
    cwd: root,
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', FLEXMUX_LOG_FORMAT: 'json', NO_COLOR: '1', ...env },
  }).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
  );
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  expect(line, r.stderr).toBeDefined();
  return { code: r.code, packages: JSON.parse(line!.slice('LOADED '.length)) as string[] };
}

describe('the CLI loads its heavy dependencies on demand', () => {
  beforeAll(async () => {
    await mkdir(dir, { recursive: true });
    buildSync({
      entryPoints: { main: join(root, 'src/cli/main.ts') },
      outdir: dir,
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
    // Packages loaded from ESM as well as CommonJS end up in the CommonJS module cache.
    await writeFile(
      preload,
      `const heavy = ${JSON.stringify(HEAVY)};
process.on('exit', () => {
  const keys = Object.keys(require.cache);
  const hit = heavy.filter((p) => keys.some((k) => k.includes('/node_modules/' + p + '/')));
  process.stderr.write('LOADED ' + JSON.stringify(hit) + '\\n');
});
`,
    );
    await writeFile(join(dir, 'flexmux.yaml'), 'log-level: warn\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--version loads none of them', async () => {
    expect(await loaded(['--version'])).toEqual({ code: 0, packages: [] });
  });

  it('a command with JSON logs and no config file loads none of them', async () => {
    // An unreachable admin URL on loopback port 1: the command fails fast, after the logger is up.
    const r = await loaded(['clients', '--admin', 'http://127.0.0.1:1']);
    expect(r.code).not.toBe(0);
    expect(r.packages).toEqual([]);
  });

  it('a config file loads yaml, readable logs load pino-pretty', async () => {
    const cfg = await loaded([
      'clients',
      '--admin',
      'http://127.0.0.1:1',
      '--config',
      join(dir, 'flexmux.yaml'),
    ]);
    expect(cfg.packages).toEqual(['yaml']);
    const pretty = await loaded(['clients', '--admin', 'http://127.0.0.1:1', '--log-format', 'pretty']);
    expect(pretty.packages).toEqual(['pino-pretty']);
  });

  it('--admin loads prom-client', async () => {
    // A switcher on ephemeral loopback ports, stopped with SIGTERM once its admin API is up.
    const child = spawn(
      process.execPath,
      ['--require', preload, join(dir, 'main.js'), 'switcher', '--tcp', '127.0.0.1:0', '--ws', '127.0.0.1:0'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          FLEXMUX_LOG_FORMAT: 'json',
          FLEXMUX_PASSWORD: 'lazy-deps-test-password',
          FLEXMUX_ADMIN: '127.0.0.1:0',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (c: Buffer) => {
          stderr += String(c);
          if (stderr.includes('"admin API listening"')) resolve();
        });
        child.on('close', () => reject(new Error(`switcher exited early: ${stderr}`)));
      });
      child.kill('SIGTERM');
      expect(await closed).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
    expect(JSON.parse(line!.slice('LOADED '.length))).toEqual(['prom-client']);
  });
});
