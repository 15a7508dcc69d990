import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envName } from '../../../src/cli/options.js';
import { buildProgram } from '../../../src/cli/program.js';
import { DOCS, ROOT } from '../../helpers/docs.js';

const cliDoc = readFileSync(fileURLToPath(new URL('../../../docs/cli.md', import.meta.url)), 'utf8');

/** Table rows of docs/cli.md whose first cell documents `flags` (`-s, --switcher` or `--bind`). */
function rows(flags: string): string[] {
  return cliDoc.split('\n').filter((l) => {
    const first = l.startsWith('| ') ? l.split('|')[1]! : '';
    return first.includes(`\`${flags} `) || first.includes(`\`${flags}\``);
  });
}

/**
 * The `env` cell of `flags`' rows, for the rows of tables that have an `env` column (`''` when
 * that cell is empty), or undefined when no table with one lists the flag.
 */
function envCell(flags: string): string | undefined {
  let envColumn = false;
  let inTable = false;
  let cell: string | undefined;
  for (const line of cliDoc.split('\n')) {
    if (!line.startsWith('| ')) {
      inTable = false;
      continue;
    }
    const cells = line.split('|').map((c) => c.trim());
    if (!inTable) envColumn = cells[2] === 'env'; // the table's header row
    inTable = true;
    const first = cells[1]!;
    if (envColumn && (first.includes(`\`${flags} `) || first.includes(`\`${flags}\``))) cell = cells[2]!;
  }
  return cell;
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

  it('names the environment variable each flag reads, and only those', () => {
    // The flags that take a value and read no variable, on purpose ("Where settings come from").
    const start = cliDoc.indexOf('Exceptions, on purpose:');
    const exceptions = cliDoc.slice(start, cliDoc.indexOf('**Secrets**', start));
    const differ: string[] = [];
    for (const c of commands) {
      for (const o of c.options) {
        const flags = o.short === undefined ? o.long! : `${o.short}, ${o.long}`;
        const cell = envCell(flags);
        let expected: string | undefined;
        if (cell !== undefined) {
          // `FLEXMUX_X`, or `FLEXMUX_X` (`node` only): that command's alone.
          const only = /\(`(\w+)` only\)/.exec(cell)?.[1];
          const named = /`(FLEXMUX_\w+)`/.exec(cell)?.[1];
          expected = only === undefined || only === c.name() ? named : undefined;
        } else if (!o.isBoolean()) {
          // Rows of tables without the column: FLEXMUX_ and the long name, unless excepted.
          const excepted = [o.short, o.long].some((f) => f !== undefined && exceptions.includes(`\`${f}\``));
          expected = excepted ? undefined : envName(o.long!);
        }
        if (o.envVar !== expected) differ.push(`${c.name()} ${flags}: ${o.envVar} (docs: ${expected})`);
      }
    }
    expect(differ).toEqual([]);
  });

  it('gives each command, where the pages run it, only flags it has', () => {
    const byName = new Map(commands.map((c) => [c.name(), c]));
    const wrong: string[] = [];
    for (const doc of DOCS) {
      // A command line continued with a backslash is one line.
      const text = readFileSync(join(ROOT, doc), 'utf8').replace(/\\\n/g, ' ');
      for (const m of text.matchAll(
        /flexmux (switcher|node|dial|ping|clients|kick)((?: +[^\s`'"|&;)]+)*)/g,
      )) {
        const c = byName.get(m[1]!)!;
        const known = new Set(c.options.flatMap((o) => [o.long, o.short]));
        for (const f of m[2]!.matchAll(/ (-{1,2}[a-zA-Z][\w-]*)/g)) {
          const flag = f[1]!;
          // The page may show what an unknown flag gets (`flexmux switcher --bogus`).
          if (
            known.has(flag) ||
            ['-h', '--help'].includes(flag) ||
            text.includes(`unknown option '${flag}'`)
          ) {
            continue;
          }
          wrong.push(`${doc}: flexmux ${m[1]} ${flag}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
