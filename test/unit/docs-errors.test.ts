import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { PingErrorText } from '../../src/wire/ping.js';
import { ROOT } from '../helpers/docs.js';

/**
 * docs/errors.md's tables against src/errors.ts: the catalogue pairs each code with the class that
 * carries it and names fields the class has, and the reset-code and wire-text tables say what
 * ResetCode, DialRefusedError and PingErrorText do. manual-api.test.ts only checks that each class
 * is named somewhere in the catalogue, so a row with another class's code, or a wire text mapped to
 * the wrong reason, passed unseen.
 */

const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

/** An instance of each FlexError subclass, made with the arguments its constructor needs. */
function instance(name: string): errors.FlexError {
  const make = (errors as unknown as Record<string, new (...args: unknown[]) => errors.FlexError>)[name];
  expect(make, `${name} is exported by src/errors.ts`).toBeTypeOf('function');
  if (name === 'StreamResetError') return new make!('x', 0, true);
  if (name === 'AdmissionError') return new make!('x', -1);
  return new make!('x');
}

/** The rows of the first table after `heading`, as arrays of cells (backticks kept). */
function rows(heading: string): string[][] {
  const start = doc.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const out: string[][] = [];
  for (const line of doc.slice(start + heading.length).split('\n')) {
    if (!line.startsWith('|')) {
      if (out.length > 0) break;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.every((c) => /^-*$/.test(c))) continue; // the rule under the header
    out.push(cells);
  }
  return out.slice(1); // the header
}

const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('docs/errors.md', () => {
  it('pairs every code with the class that carries it, and its extra fields', () => {
    const documented = new Map<string, string>();
    for (const [code, cls, fields] of rows('## Catalogue')) {
      const [c] = ticked(code!);
      const [name] = ticked(cls!);
      const e = instance(name!);
      expect(e.code, `${name}'s code`).toBe(c);
      for (const f of ticked(fields!)) expect(e, `${name}.${f}`).toHaveProperty(f);
      documented.set(c!, name!);
    }
    // Every subclass the module exports has its row.
    const classes = Object.entries(errors)
      .filter(([, v]) => Object.prototype.isPrototypeOf.call(errors.FlexError, v as object))
      .map(([k]) => k);
    expect([...documented.values()].sort()).toEqual(classes.sort());
  });

  it('lists ResetCode exactly, code by code', () => {
    const named: Record<string, number> = {};
    for (const [code, name] of rows('## Reset reason codes')) {
      const [n] = ticked(name!);
      if (n !== undefined) named[n] = Number(code);
    }
    expect(named).toEqual({ ...errors.ResetCode });
  });

  it('maps each OpenStream ACK text to the reason DialRefusedError gives it', () => {
    const table = rows('### OpenStream ACK to `DialRefusedError.reason`');
    expect(table.length).toBeGreaterThan(5);
    for (const [texts, , reason] of table) {
      for (const text of ticked(texts!)) {
        expect(new errors.DialRefusedError(text).reason, text).toBe(ticked(reason!)[0]);
      }
    }
  });

  it('lists the ping texts PingErrorText has', () => {
    const texts = rows('### Ping ACK to `PingError.remoteText`').map(([t]) => ticked(t!)[0]);
    expect(texts.sort()).toEqual(Object.values(PingErrorText).sort());
  });
});
