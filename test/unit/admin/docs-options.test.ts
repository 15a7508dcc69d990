import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminDefaults } from '../../../src/admin/config.js';

const doc = readFileSync(new URL('../../../docs/admin.md', import.meta.url), 'utf8');

/** The default cell of a row as a value: `'127.0.0.1'`, `7090`, `1000` ms, 4 MiB, `false`. */
function value(cell: string): string | number | boolean | undefined {
  const text = cell.replaceAll('`', '').trim();
  if (text === 'none' || text === 'silent') return undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  const quoted = /^'(.*)'$/.exec(text);
  if (quoted) return quoted[1];
  const m = /^(\d+)(?: (ms|KiB|MiB))?$/.exec(text);
  expect(m, `default "${cell}"`).not.toBeNull();
  const unit = { KiB: 1024, MiB: 1024 * 1024 }[m![2] as 'KiB' | 'MiB'] ?? 1;
  return Number(m![1]) * unit;
}

/** Rows `| \`name\` | default | meaning |` of the table under "## Options". */
function table(): Record<string, unknown> {
  const start = doc.indexOf('## Options');
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + 1);
  const section = rest.slice(0, rest.search(/\n## /));
  const rows: Record<string, unknown> = {};
  for (const m of section.matchAll(/^\| `(\w+)` \| ([^|]+?) \|/gm)) rows[m[1]!] = value(m[2]!);
  return rows;
}

describe('docs/admin.md options', () => {
  it('quotes every admin default exactly, and documents token, logger and allowedHosts', () => {
    expect(table()).toStrictEqual({
      ...adminDefaults,
      token: undefined,
      logger: undefined,
      allowedHosts: undefined,
    });
  });
});
