import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { killAll, ROOT, runCli } from '../helpers/cli.js';

/** The log waits of test/helpers/cli.ts, on a process that logs the same message each time it is told. */

vi.setConfig({ testTimeout: 60_000 });
afterEach(() => killAll());

const TICKS = join(ROOT, 'test/fixtures/cli/ticks.mjs');

describe('waiting for a log message that repeats', () => {
  it('waitForLog returns the earlier line again; nextLog waits for a new one', async () => {
    const child = runCli([], { script: TICKS, stdin: 'pipe' });
    expect(await child.waitForLog('tick')).toMatchObject({ n: 1 });
    // What a second wait for `reloaded` after a second SIGHUP did: the first line, at once.
    expect(await child.waitForLog('tick')).toMatchObject({ n: 1 });

    let second: unknown;
    const next = child.nextLog('tick').then((l) => {
      second = l;
      return l;
    });
    // Not the earlier line: a match among the lines already in resolves `next` before this
    // (already resolved) wait returns.
    await child.waitForLog('tick');
    expect(second).toBeUndefined();
    child.proc.stdin?.write('x');
    expect(await next).toMatchObject({ n: 2 });

    // `after`: counted from a point taken before an action that was awaited.
    const mark = child.logs.length;
    child.proc.stdin?.write('x');
    await child.waitForLog('tick', (l) => l.n === 3);
    expect(await child.nextLog('tick', { after: mark })).toMatchObject({ n: 3 });
    expect(await child.nextLog('tick', { after: 0 })).toMatchObject({ n: 1 });

    child.proc.stdin?.end();
    expect(await child.exited).toBe(0);
  });
});
