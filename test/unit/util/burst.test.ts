import { describe, expect, it } from 'vitest';
import { Burst } from '../../../src/util/burst.js';

describe('Burst', () => {
  it('lets the first event through, sums up the rest once a second and when it ends', () => {
    let clock = 0;
    const lines: Record<string, unknown>[] = [];
    const b = new Burst(
      (f) => lines.push(f),
      () => clock,
    );
    expect(b.hit()).toBe(true);
    for (let i = 0; i < 99; i++) expect(b.hit()).toBe(false);
    expect(lines).toEqual([]);
    clock = 1_000;
    expect(b.hit({ pending: 7 })).toBe(false);
    expect(lines).toEqual([{ refused: 100, total: 101, ms: 1_000, over: false, pending: 7 }]);
    b.hit();
    clock = 1_200;
    b.end();
    expect(lines[1]).toEqual({ refused: 1, total: 102, ms: 1_200, over: true });
    expect(b.active).toBe(false);
    // A new burst starts over; one with nothing unsaid ends without a line.
    expect(b.hit()).toBe(true);
    b.end();
    expect(lines).toHaveLength(2);
  });

  it('ends once quiet for the given time, with the fields of its last event', () => {
    let clock = 0;
    const lines: Record<string, unknown>[] = [];
    const b = new Burst(
      (f) => lines.push(f),
      () => clock,
    );
    b.hit({ remote: 'a' });
    b.hit({ remote: 'b' });
    clock = 999;
    b.endIfQuiet(1_000);
    expect(b.active).toBe(true);
    clock = 1_000;
    b.endIfQuiet(1_000);
    expect(b.active).toBe(false);
    expect(lines).toEqual([{ refused: 1, total: 2, ms: 1_000, over: true, remote: 'b' }]);
  });
});
