import { describe, expect, it } from 'vitest';
import { AbortError, ConnectionClosedError } from '../../../src/errors.js';
import { causeCode, errorFields } from '../../../src/util/cause.js';

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('causeCode', () => {
  it("finds the runtime's code under flexmux's, however deep (within bounds)", () => {
    const tlsFailure = coded('DEPTH_ZERO_SELF_SIGNED_CERT');
    const dial = new ConnectionClosedError('TLS dial failed', { cause: tlsFailure });
    expect(causeCode(dial)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    // Past another FlexError in between, to the first code that is not flexmux's.
    const outer = new AbortError('aborted', { cause: dial });
    expect(causeCode(outer)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it("is undefined without such a cause, and never the error's own code", () => {
    expect(causeCode(new ConnectionClosedError('closed'))).toBeUndefined();
    expect(causeCode(coded('ECONNREFUSED'))).toBeUndefined();
    expect(causeCode(new Error('x', { cause: 'not an error' }))).toBeUndefined();
    expect(causeCode(undefined)).toBeUndefined();
    // A chain that loops back on itself ends.
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = new Error('b', { cause: a });
    expect(causeCode(a)).toBeUndefined();
  });
});

describe('errorFields', () => {
  it("gives the message, the error's own code and the runtime's under it, leaving out what is not there", () => {
    const reset = coded('ECONNRESET');
    expect(errorFields(new ConnectionClosedError('closed', { cause: reset }))).toEqual({
      err: 'closed',
      code: 'FLEX_ERR_CONNECTION_CLOSED',
      cause: 'ECONNRESET',
    });
    expect(errorFields(coded('ECONNREFUSED'))).toEqual({ err: 'ECONNREFUSED', code: 'ECONNREFUSED' });
    expect(errorFields(new Error('plain'))).toEqual({ err: 'plain' });
    expect(errorFields('not an error')).toEqual({ err: 'not an error' });
  });
});
