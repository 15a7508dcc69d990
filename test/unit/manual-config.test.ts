import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaults, sessionDefaults } from '../../src/config.js';
import { switcherDefaults } from '../../src/switcher/config.js';

const manual = readFileSync(new URL('../../docs/manual.md', import.meta.url), 'utf8');

/** Rows `| \`name\` | value | ... |` of the table under `heading`. */
function table(heading: string): Record<string, number | boolean | string> {
  const start = manual.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = manual.slice(start + heading.length);
  const end = rest.search(/\n#{2,3} /);
  const rows: Record<string, number | boolean | string> = {};
  for (const m of (end < 0 ? rest : rest.slice(0, end)).matchAll(
    /^\| `(\w+)` \| (\d+(?:\.\d+)?|true|false|`'[\w-]+'`) \|/gm,
  )) {
    const v = m[2]!;
    rows[m[1]!] =
      v === 'true' ? true : v === 'false' ? false : v.startsWith('`') ? v.slice(2, -2) : Number(v);
  }
  return rows;
}

describe('docs/manual.md configuration reference', () => {
  it('quotes every node default exactly', () => {
    expect(table('### Node options')).toEqual({ ...defaults });
  });
  it('quotes every session default exactly', () => {
    expect(table('### Session options')).toEqual({ ...sessionDefaults });
  });
  it('quotes every switcher default exactly', () => {
    expect(table('### Switcher options')).toEqual({ ...switcherDefaults });
  });
});
