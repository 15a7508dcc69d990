import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { gcFlag, tuneGarbageCollector } from '../../../src/cli/gc-tuning.js';

// V8 versions of the Node.js builds measured in docs/performance.md ("Node.js 24 and 26").
const NODE20 = '11.3.244.8-node.38';
const NODE22 = '12.4.254.21-node.57';
const NODE24 = '13.6.233.17-node.53';
const NODE26 = '14.6.202.34-node.40';
const SCAVENGER = '--scavenger-max-new-space-capacity-mb=8';
const GLOBAL_LIMIT = '--external-memory-accounted-in-global-limit';

describe('gcFlag', () => {
  it('picks the flag that each affected V8 has, and none for the others', () => {
    expect(gcFlag(NODE24)?.setting).toBe(SCAVENGER);
    expect(gcFlag('13.7.1')?.setting).toBe(SCAVENGER);
    expect(gcFlag(NODE26)?.setting).toBe(GLOBAL_LIMIT);
    for (const v of ['13.5.212', NODE20, NODE22, '15.0.1', '']) expect(gcFlag(v)).toBeNull();
  });
});

describe('tuneGarbageCollector', () => {
  it('sets the flag once where it applies', () => {
    const set = vi.fn();
    expect(tuneGarbageCollector([], NODE24, set)).toBe(SCAVENGER);
    expect(tuneGarbageCollector(['--expose-gc'], NODE26, set)).toBe(GLOBAL_LIMIT);
    expect(set.mock.calls).toEqual([[SCAVENGER], [GLOBAL_LIMIT]]);
  });

  it("leaves an operator's own setting alone, however it is spelt", () => {
    const set = vi.fn();
    expect(tuneGarbageCollector(['--scavenger-max-new-space-capacity-mb=16'], NODE24, set)).toBeNull();
    expect(tuneGarbageCollector(['--scavenger_max_new_space_capacity_mb=32'], NODE24, set)).toBeNull();
    expect(tuneGarbageCollector(['--no-external-memory-accounted-in-global-limit'], NODE26, set)).toBeNull();
    expect(set).not.toHaveBeenCalled();
  });

  it('changes nothing on other versions', () => {
    const set = vi.fn();
    for (const v of [NODE20, NODE22]) expect(tuneGarbageCollector(['--expose-gc'], v, set)).toBeNull();
    expect(set).not.toHaveBeenCalled();
  });

  it('sets a flag that the running V8 knows', () => {
    // V8 prints "unrecognized flag" on stderr for a flag it does not have.
    const flag = gcFlag(process.versions.v8);
    if (flag === null) {
      expect(tuneGarbageCollector([], process.versions.v8, vi.fn())).toBeNull();
      return;
    }
    const r = spawnSync(
      process.execPath,
      ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(flag.setting)})`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
