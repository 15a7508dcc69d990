import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';

describe('errors', () => {
  it('every class has a stable name, its code, and instanceof along its chain', () => {
    const e = new errors.StreamResetError('reset', 0x300, true, { cause: new Error('why') });
    expect(e.name).toBe('StreamResetError');
    expect(e.code).toBe('FLEX_ERR_STREAM_RESET');
    expect(e).toBeInstanceOf(errors.StreamResetError);
    expect(e).toBeInstanceOf(errors.FlexError);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(errors.ProtocolError);
    expect((e.cause as Error).message).toBe('why');
    for (const [name, ctor] of Object.entries(errors)) {
      if (typeof ctor === 'function' && 'kind' in ctor) expect((ctor as { kind: string }).kind).toBe(name);
    }
  });

  it('instanceof works for an error made by another copy of the package', () => {
    // a second copy: same brand symbol, different class objects
    class OtherCopyError extends Error {
      constructor() {
        super('from elsewhere');
        (this as unknown as Record<symbol, string[]>)[Symbol.for('flexmux.error')] = [
          'DialTimeoutError',
          'FlexError',
        ];
      }
    }
    const e = new OtherCopyError();
    expect(e).toBeInstanceOf(errors.DialTimeoutError);
    expect(e).toBeInstanceOf(errors.FlexError);
    expect(e).not.toBeInstanceOf(errors.DialRefusedError);
  });

  it('maps wire refusal texts to reasons', () => {
    expect(new errors.DialRefusedError('listener not found').reason).toBe('no-listener');
    expect(new errors.DialRefusedError('resolve domain failed').reason).toBe('unknown-domain');
    expect(new errors.DialRefusedError('something new').reason).toBe('other');
    expect(new errors.DialRefusedError('listener not found').message).toBe(
      'dial refused: listener not found',
    );
    expect(new errors.DialRefusedError('listener not found', { target: 'bob:81' }).message).toBe(
      'dial bob:81 refused: listener not found',
    );
  });
});
