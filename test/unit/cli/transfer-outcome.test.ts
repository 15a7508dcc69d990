import { describe, expect, it } from 'vitest';
import { transferOutcome } from '../../../src/cli/meter.js';

/** The first word of `dial --stats`'s summary, from how the transfer ended. */

const interrupted = Object.assign(new Error('interrupted by SIGINT'), { code: 'CLI_INTERRUPTED' });
const reset = Object.assign(new Error('stream reset by peer'), { code: 'FLEX_ERR_STREAM_RESET' });

describe('transferOutcome', () => {
  it('done: every byte carried, no error', () => {
    expect(transferOutcome({ complete: true, signalled: false, failure: undefined })).toBe('done');
  });

  it('interrupted: a signal cut the transfer short', () => {
    expect(transferOutcome({ complete: false, signalled: true, failure: interrupted })).toBe('interrupted');
  });

  it('failed: the transfer ended with an error no signal caused', () => {
    expect(transferOutcome({ complete: false, signalled: false, failure: reset })).toBe('failed');
    expect(transferOutcome({ complete: true, signalled: false, failure: reset })).toBe('failed');
  });
});
