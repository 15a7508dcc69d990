import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/config.js';
import { switcherDefaults } from '../../src/switcher/config.js';

const manual = readFileSync(new URL('../../docs/manual.md', import.meta.url), 'utf8');

/** Rows `| \`name\` | value | ... |` of the table under `heading`. */
function table(heading: string): Record<string, number | boolean> {
  const start = manual.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = manual.slice(start + heading.length);
  const end = rest.search(/\n#{2,3} /);
  const rows: Record<string, number | boolean> = {};
  for (const m of (end < 0 ? rest : rest.slice(0, end)).matchAll(/^\| `(\w+)` \| (\d+|true|false) \|/gm)) {
    rows[m[1]!] = m[2] === 'true' ? true : m[2] === 'false' ? false : Number(m[2]);
  }
  return rows;
}

describe('docs/manual.md configuration reference', () => {
  it('quotes every node default exactly', () => {
    expect(table('### Node options')).toEqual({ ...defaults });
  });
  it('quotes every switcher default exactly', () => {
    expect(table('### Switcher options')).toEqual({ ...switcherDefaults });
  });
});
