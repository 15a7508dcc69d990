import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/config.js';
import { transportDefaults } from '../../src/transport/defaults.js';

const doc = readFileSync(new URL('../../docs/browser.md', import.meta.url), 'utf8');

/** Rows `| \`name\` | value | ... |` of the table under `heading`. */
function table(heading: string): Record<string, string> {
  const start = doc.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + heading.length);
  const end = rest.search(/\n#{2,3} /);
  const rows: Record<string, string> = {};
  for (const m of (end < 0 ? rest : rest.slice(0, end)).matchAll(/^\| `(\w+)` \| ([^|]+?) \|/gm)) {
    rows[m[1]!] = m[2]!;
  }
  return rows;
}

describe('docs/browser.md', () => {
  it('quotes the flow-control defaults from the code', () => {
    expect(table('### Defaults')).toEqual({
      window: String(defaults.window),
      streamHighWaterMark: String(defaults.streamHighWaterMark),
      wsHighWaterMark: String(transportDefaults.wsHighWaterMark),
      browserPollInterval: String(transportDefaults.browserPollInterval),
      browserMaxHeldBytes: String(transportDefaults.browserMaxHeldBytes),
    });
  });

  it('lists every demo option', () => {
    expect(Object.keys(table('| `DemoOptions` |'))).toEqual([
      'base',
      'wsPath',
      'echo',
      'echoPort',
      'listPeers',
      'bundle',
    ]);
  });
});
