import { describe, expect, it } from 'vitest';
import { Listener } from '../../../src/node/listener.js';

/** A backlog entry that counts how often the listener asks whether it died. */
class Probe {
  reads = 0;
  private dead = false;
  get destroyed(): boolean {
    this.reads++;
    return this.dead;
  }
  destroy(): void {
    this.dead = true;
  }
}

function fill(l: Listener<Probe>, n: number): Probe[] {
  const all: Probe[] = [];
  for (let i = 0; i < n; i++) {
    expect(l.canTake()).toBe(true);
    const s = new Probe();
    l.offer(s);
    all.push(s);
  }
  return all;
}

describe('Listener backlog', () => {
  it('admits an open without scanning a backlog that is not full', () => {
    const l = new Listener<Probe>(80, 10_000);
    const all = fill(l, 2_000);
    // Each open used to walk the whole backlog: 2,000 opens read ~2,000,000 flags.
    const reads = all.reduce((n, s) => n + s.reads, 0);
    expect(reads).toBe(0);
  });

  it('still finds room left by dead streams once the backlog is full', () => {
    const l = new Listener<Probe>(80, 4);
    const all = fill(l, 4);
    expect(l.canTake()).toBe(false);
    all[1]!.destroy();
    expect(l.canTake()).toBe(true);
    expect(l.pending).toBe(3);
  });
});
