import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The API reference (`npm run docs`) stays complete: typedoc.json runs typedoc over the four
 * package entries with its validation on (notExported, invalidLink, notDocumented), and this runs
 * it with `--emit none --treatWarningsAsErrors`. A new export without a TSDoc comment, a {@link}
 * that resolves to nothing, or a public signature naming a type no entry exports (other than the
 * plumbing listed in typedoc.json's intentionallyNotExported) fails it, naming the declaration.
 * Typedoc runs as a child: about 10 s on 2 cores.
 */

const root = resolve(import.meta.dirname, '../..');

interface Run {
  code: number;
  warnings: string[];
}

function typedoc(): Promise<Run> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [resolve(root, 'node_modules/typedoc/bin/typedoc'), '--emit', 'none', '--treatWarningsAsErrors'],
      { cwd: root, timeout: 90_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          fail(err);
          return;
        }
        const warnings = `${stdout}\n${stderr}`
          // biome-ignore lint/suspicious/noControlCharactersInRegex: strips colour codes
          .replace(/\x1b\[[0-9;]*m/g, '')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.startsWith('[warning]') || l.startsWith('[error]'));
        done({ code: typeof err?.code === 'number' ? err.code : 0, warnings });
      },
    );
  });
}

describe('API reference', () => {
  it('typedoc validates every entry without a warning', { timeout: 120_000 }, async () => {
    const run = await typedoc();
    expect(run.warnings, 'typedoc warnings').toEqual([]);
    expect(run.code, 'typedoc exit code').toBe(0);
  });
});
