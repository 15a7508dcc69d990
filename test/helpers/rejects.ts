import { expect } from 'vitest';
import { ConfigError } from '../../src/errors.js';

/**
 * Checks that `call` reports a bad argument by rejecting the promise it returns with ConfigError,
 * not by throwing from the call itself: code that handles failures with `.catch()` or a promise
 * chain alone never sees a throw. Returns the error for further checks.
 */
export async function rejectsWithConfigError(call: () => Promise<unknown>): Promise<Error> {
  let promise: Promise<unknown> | undefined;
  expect(() => {
    promise = call();
  }).not.toThrow();
  await expect(promise).rejects.toThrow(ConfigError);
  return (await (promise as Promise<unknown>).catch((e: unknown) => e)) as Error;
}
