import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';

const cliDoc = readFileSync(fileURLToPath(new URL('../../../docs/cli.md', import.meta.url)), 'utf8');

/** Table rows of docs/cli.md whose first cell documents `flags` (`-s, --switcher` or `--bind`). */
function rows(flags: string): string[] {
  return cliDoc.split('\n').filter((l) => {
    const first = l.startsWith('| ') ? l.split('|')[1]! : '';
    return first.includes(`\`${flags} `) || first.includes(`\`${flags}\``);
  });
}

/** What `flexmux COMMAND --help` shows as the default: commander's, or "(default X)" in the text. */
function helpDefault(o: {
  defaultValue?: unknown;
  defaultValueDescription?: string;
  description: string;
}): string | undefined {
  if (o.defaultValueDescription !== undefined) return o.defaultValueDescription;
  if (typeof o.defaultValue === 'string') return o.defaultValue;
  return /\(default ([^;:)]+)/.exec(o.description)?.[1];
}

describe('docs/cli.md', () => {
  const commands = buildProgram(() => {}).commands;

  it('has a row for every flag of every command, with the default --help shows', () => {
    const missing: string[] = [];
    for (const c of commands) {
      for (const o of c.options) {
        const flags = o.short === undefined ? o.long! : `${o.short}, ${o.long}`;
        const found = rows(flags);
        if (found.length === 0) missing.push(`${c.name()} ${flags}: no row`);
        const d = helpDefault(o);
        if (d !== undefined && !found.some((r) => r.includes(d))) {
          missing.push(`${c.name()} ${flags}: default ${d} not in its row`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('calls a flag repeatable where --help does, and the other way round', () => {
    const differ: string[] = [];
    for (const c of commands) {
      for (const o of c.options) {
        const flags = o.short === undefined ? o.long! : `${o.short}, ${o.long}`;
        const inDoc = rows(flags).some((r) => r.includes('repeatable'));
        if (inDoc !== o.description.includes('repeatable')) differ.push(`${c.name()} ${flags}`);
      }
    }
    expect(differ).toEqual([]);
  });

  it('documents no flag that no command has', () => {
    const known = new Set(commands.flatMap((c) => c.options.map((o) => o.long!)));
    known.add('--help');
    const documented = [...cliDoc.matchAll(/^\| `(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!);
    expect(documented.filter((f) => !known.has(f))).toEqual([]);
  });
});
