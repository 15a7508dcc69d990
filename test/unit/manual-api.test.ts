import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as admin from '../../src/admin/index.js';
import * as browser from '../../src/browser.js';
import * as demo from '../../src/demo/index.js';
import { FlexError } from '../../src/errors.js';
import * as node from '../../src/index.js';

const manual = readFileSync(new URL('../../docs/manual.md', import.meta.url), 'utf8');
const errorsDoc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** Section 7 of the manual, the API reference. */
function reference(): string {
  const start = manual.indexOf('## 7. API reference');
  expect(start, 'section 7').toBeGreaterThanOrEqual(0);
  const rest = manual.slice(start + 1);
  const end = rest.search(/\n## /);
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * Exports of `entry` that the reference never names in backticks (`name`, `name(...)`); the
 * subclasses of FlexError are named in the catalogue of docs/errors.md instead.
 */
function unlisted(entry: Record<string, unknown>): string[] {
  const text = reference();
  return Object.entries(entry)
    .filter(([name, value]) =>
      Object.prototype.isPrototypeOf.call(FlexError, value as object)
        ? !errorsDoc.includes(`| \`${name}\` |`)
        : !new RegExp(`\`${name}[\`( .]`).test(text),
    )
    .map(([name]) => name);
}

describe('docs/manual.md API reference', () => {
  it('names every run-time export of flexmux', () => {
    expect(unlisted(node)).toEqual([]);
  });
  it('names every run-time export of flexmux/browser', () => {
    expect(unlisted(browser)).toEqual([]);
  });
  it('names every run-time export of flexmux/admin and flexmux/demo', () => {
    expect(unlisted({ ...admin, ...demo })).toEqual([]);
  });
});
