import { ConnectionClosedError, FlexStream } from '../../src/index.js';
import { BaseNode } from '../../src/node/node.js';
import { Session, type SessionOptions } from '../../src/node/session.js';

/**
 * A session whose every connection attempt fails at once, and the times (`performance.now()`, so
 * fake timers may set them) of its attempts: for tests of the back-off between them. Close it.
 */
export function refusingSession(options: Omit<SessionOptions, 'password'>): {
  session: Session<FlexStream>;
  attempts: number[];
} {
  const attempts: number[] = [];
  const session = new Session<FlexStream>({
    connector: async () => {
      attempts.push(performance.now());
      throw new ConnectionClosedError('refused');
    },
    makeNode: (t, o) => new BaseNode(t, o, (core) => new FlexStream(core)),
    password: 'refused-anyway',
    ...options,
  });
  return { session, attempts };
}

/** Milliseconds between consecutive attempts, rounded. */
export const gapsBetween = (attempts: readonly number[]): number[] =>
  attempts.slice(1).map((t, i) => Math.round(t - attempts[i]!));
