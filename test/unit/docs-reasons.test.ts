import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_LISTENERS } from '../../src/listener-refusals.js';
import { REFUSAL_REASONS } from '../../src/switcher/admission.js';
import { LEAVE_REASONS } from '../../src/switcher/client.js';
import { HANDSHAKE_REFUSAL_REASONS } from '../../src/transport/handshakes.js';
import { ROOT } from '../helpers/docs.js';

/**
 * The reasons the switcher gives for what it refuses and for clients that leave are API: a
 * program counts them (`REFUSAL_REASONS`, `LEAVE_REASONS`), alerts are written on the metric
 * labels they become. docs/manual.md and docs/admin.md list each set in prose; these tests fail
 * when a reason is added to the code and not to the page, or the page names one the code never
 * gives. Each list is read between two phrases of its page, as the lower-case words in backticks
 * there, less the words the prose around it uses (log levels, a label's name, the transports).
 */

/** The page's prose from `from` to `to`, line breaks as spaces. */
function passage(file: string, from: string, to: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\s+/g, ' ');
  const start = text.indexOf(from);
  expect(start, `${file}: "${from}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf(to, start);
  expect(end, `${file}: "${to}" after "${from}"`).toBeGreaterThan(start);
  return text.slice(start, end);
}

/** The distinct lower-case words in backticks (`rate-limited`) of `text`, but `besides`. */
function named(text: string, besides: readonly string[]): string[] {
  const words = [...text.matchAll(/`([a-z][a-z-]*)`/g)].map((m) => m[1]!);
  return [...new Set(words)].filter((w) => !besides.includes(w)).sort();
}

const sorted = (list: readonly string[]): string[] => [...list].sort();

describe('reasons in docs/manual.md and docs/admin.md', () => {
  it("list every admission refusal's reason, REFUSAL_REASONS, and no other", () => {
    const text = passage('docs/manual.md', '`REFUSAL_REASONS` lists them', 'These get no reply on purpose');
    expect(named(text, ['info', 'warn'])).toEqual(sorted(REFUSAL_REASONS));
  });

  it("list every client's leave reason, LEAVE_REASONS, and no other", () => {
    const text = passage('docs/manual.md', '`LEAVE_REASONS` lists them', 'The error of `clientLeft`');
    expect(named(text, ['reason'])).toEqual(sorted(LEAVE_REASONS));
  });

  it("list every listener handshake refusal's reason and no other", () => {
    const text = passage(
      'docs/admin.md',
      '| `flexmux_switcher_handshake_refusals_total` |',
      'A connection that finishes its handshake',
    );
    // `tls` names a listener and a reason both; `ws` and `wss` only listeners.
    const listeners = HANDSHAKE_LISTENERS.filter(
      (l) => !(HANDSHAKE_REFUSAL_REASONS as readonly string[]).includes(l),
    );
    expect(named(text, ['transport', 'reason', ...listeners])).toEqual(sorted(HANDSHAKE_REFUSAL_REASONS));
  });
});
