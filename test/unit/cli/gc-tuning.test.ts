import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import {
  tuneGarbageCollector,
  YOUNG_GENERATION_FLAG,
  youngGenerationFlag,
} from '../../../src/cli/gc-tuning.js';

// V8 versions of the Node.js builds measured in docs/performance.md ("Node.js 24 and 26").
const NODE20 = '11.3.244.8-node.38';
const NODE22 = '12.4.254.21-node.57';
const NODE24 = '13.6.233.17-node.53';
const NODE26 = '14.6.202.34-node.40';

describe('youngGenerationFlag', () => {
  it('asks for the 8 MB new-space limit on the V8 of Node 24 only', () => {
    expect(youngGenerationFlag(NODE24)).toBe(`${YOUNG_GENERATION_FLAG}=8`);
    expect(youngGenerationFlag('13.7.1')).toBe(`${YOUNG_GENERATION_FLAG}=8`);
    expect(youngGenerationFlag('13.5.212')).toBeNull();
    expect(youngGenerationFlag(NODE20)).toBeNull();
    expect(youngGenerationFlag(NODE22)).toBeNull();
    // Node 26's V8 has no such flag: setting it would only print a warning.
    expect(youngGenerationFlag(NODE26)).toBeNull();
    expect(youngGenerationFlag('')).toBeNull();
  });
});

describe('tuneGarbageCollector', () => {
  it('sets the flag once where it applies', () => {
    const set = vi.fn();
    expect(tuneGarbageCollector([], NODE24, set)).toBe(`${YOUNG_GENERATION_FLAG}=8`);
    expect(set).toHaveBeenCalledTimes(1);
    expect(set).toHaveBeenCalledWith(`${YOUNG_GENERATION_FLAG}=8`);
  });

  it("leaves an operator's own value alone", () => {
    const set = vi.fn();
    expect(tuneGarbageCollector([`${YOUNG_GENERATION_FLAG}=16`], NODE24, set)).toBeNull();
    expect(set).not.toHaveBeenCalled();
  });

  it('changes nothing on other versions', () => {
    const set = vi.fn();
    for (const v of [NODE20, NODE22, NODE26])
      expect(tuneGarbageCollector(['--expose-gc'], v, set)).toBeNull();
    expect(set).not.toHaveBeenCalled();
  });

  it('is a flag this V8 accepts where it is set', () => {
    // V8 warns on stderr about a flag it does not know; run only where the flag applies.
    const flag = youngGenerationFlag(process.versions.v8);
    if (flag === null) {
      expect(tuneGarbageCollector([], process.versions.v8, vi.fn())).toBeNull();
      return;
    }
    const r = spawnSync(
      process.execPath,
      ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(flag)})`],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });
});
