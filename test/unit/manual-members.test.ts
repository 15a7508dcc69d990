import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The rows of docs/manual.md's API reference (section 7) that list a class's members and events,
 * against the types: every member a row names exists on the class, and each `Events:` list is
 * exactly the keys of the class's event map. manual-api.test.ts checks only that each export is
 * named, so a member renamed, or an event added without a word in the table, went unseen.
 */

const root = resolve(import.meta.dirname, '../..');
const manual = readFileSync(resolve(root, 'docs/manual.md'), 'utf8');

/** The row of the `flexmux` (Node.js) table whose first cell is `` `name` ``. */
function row(name: string): string {
  const line = manual.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
  expect(line, `a row for ${name} in section 7`).toBeDefined();
  return line!.slice(`| \`${name}\` |`.length);
}

/** `text` from `from` (exclusive) up to `to` (exclusive; the end when absent). */
function between(text: string, from: string, to?: string): string {
  const start = text.indexOf(from);
  expect(start, `"${from}" in the row`).toBeGreaterThanOrEqual(0);
  const rest = text.slice(start + from.length);
  if (to === undefined) return rest;
  const end = rest.indexOf(to);
  expect(end, `"${to}" in the row`).toBeGreaterThanOrEqual(0);
  return rest.slice(0, end);
}

/**
 * The leading identifiers of the backticked spans of `text` outside parentheses: in
 * "`dial(address, { signal })` (the `x`), `ip`" that is dial and ip; a span that starts with
 * `new ` (a constructor) is left out.
 */
function named(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      const span = text.slice(i + 1, end);
      const id = /^[A-Za-z_$][\w$]*/.exec(span)?.[0];
      if (depth === 0 && id !== undefined && !span.startsWith('new ')) out.push(id);
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  return out;
}

const program = ts.createProgram([resolve(root, 'src/index.ts')], {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ['node'],
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();
const exported = new Map(
  checker
    .getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(resolve(root, 'src/index.ts'))!)!)
    .map((s) => [s.name, s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s]),
);

/** The property names of the exported class or type `name` (a class's instance side). */
function properties(name: string): string[] {
  const symbol = exported.get(name);
  expect(symbol, `flexmux exports ${name}`).toBeDefined();
  return checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol!)).map((p) => p.name);
}

function expectMembers(cls: string, text: string): void {
  const names = named(text);
  expect(names.length, `members named for ${cls}`).toBeGreaterThan(3);
  const has = new Set(properties(cls));
  expect(
    names.filter((n) => !has.has(n)),
    `members of ${cls} that the manual names but the class lacks`,
  ).toEqual([]);
}

function expectEvents(events: string, text: string): void {
  expect([...new Set(named(text))].sort(), `the events the manual lists against ${events}`).toEqual(
    properties(events).sort(),
  );
}

describe('docs/manual.md API reference, member by member', () => {
  it('names only members the classes have', () => {
    expectMembers('Session', between(row('Session'), 'Members:', 'Events:'));
    expectMembers('BaseNode', between(row('BaseNode'), 'Members:', 'Events:'));
    expectMembers('Switcher', between(row('Switcher'), '(section 2).', 'Events:'));
    expectMembers('FlexStream', between(row('FlexStream'), ' with ', '`new FlexStream('));
    expectMembers('Scheduler', between(row('Scheduler'), 'may read:', ';'));
    expectMembers('StreamCore', between(row('StreamCore'), 'uses its', ' and state getters'));
  });

  it('lists every event of each class, and no other', () => {
    expectEvents('SessionEvents', between(row('Session'), 'Events:'));
    expectEvents('NodeEvents', between(row('BaseNode'), 'Events:'));
    expectEvents('SwitcherEvents', between(row('Switcher'), 'Events:'));
    // "the `stream` event, ... and its `close` event"
    const listener = row('Listener');
    expect(
      [...listener.matchAll(/`(\w+)` event/g)].map((m) => m[1]).sort(),
      'the events the manual lists against ListenerEvents',
    ).toEqual(properties('ListenerEvents').sort());
  });
});
